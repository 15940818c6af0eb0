#!/usr/bin/env python3
"""Graceful-shutdown test: starts its own gateway, opens a long stream, sends SIGTERM mid-stream and checks that

  - the in-flight stream runs to its normal end (finish_reason "stop", the usage chunk, data: [DONE]),
  - a new connection made after SIGTERM is refused or fails (never served 200),
  - the process exits with status 0 within server.shutdown_grace_s.

    python scripts/e2e/shutdown_test.py --bin .build/debug/switchboard --config e2e-shutdown.yaml \
        --listen 127.0.0.1:PORT --key sk-e2e --grace 10 --log-dir /tmp/logs

The config must define the model `slow` (a mock answering ~40 tokens at 20 tokens/s, about 2 s) and `demo`.
Prints PASS/FAIL per check and closes with `shutdown: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import threading
import time

from e2e_lib import Runner, SetupFailed, WaitTimeout, bearer, open_stream, read_chat_stream, request, wait_http_ok, wait_until

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True, help="the switchboard binary")
ap.add_argument("--config", required=True, help="the gateway config (its server.listen must match --listen)")
ap.add_argument("--listen", required=True, help="HOST:PORT the config listens on")
ap.add_argument("--key", default="sk-e2e")
ap.add_argument("--grace", type=float, default=10.0, help="the config's server.shutdown_grace_s")
ap.add_argument("--log-dir", default=".", help="where gateway-shutdown.{out,err}.log go")
ap.add_argument("--model", default="slow", help="the slow streaming model")
ap.add_argument("--expect-file", help="a file that must exist and be non-empty after exit (e.g. the sqlite db)")
args = ap.parse_args()

ROOT = f"http://{args.listen}"
BASE = f"{ROOT}/v1"
runner = Runner("shutdown")
record = runner.record



def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)

os.makedirs(args.log_dir, exist_ok=True)
out_log = open(os.path.join(args.log_dir, "gateway-shutdown.out.log"), "wb")
err_log = open(os.path.join(args.log_dir, "gateway-shutdown.err.log"), "wb")
proc = subprocess.Popen([args.bin, "serve", "--config", args.config], stdout=out_log, stderr=err_log,
                        stdin=subprocess.DEVNULL)
print(f"started gateway pid {proc.pid} on {args.listen}", flush=True)


def probe_new_connection() -> tuple[bool, str]:
    """A fresh connection after SIGTERM: refused, reset, closed or answered 503 all count as 'fails'."""
    host, port = args.listen.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/v1/models", headers=bearer(args.key))
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 503:
            return True, "answered 503"
        return False, f"a new connection after SIGTERM was served: HTTP {resp.status} {body[:200]!r}"
    except ConnectionRefusedError:
        return True, "connection refused"
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as e:
        return True, f"connection failed ({type(e).__name__})"
    except TimeoutError:
        return False, "a new connection after SIGTERM was neither refused nor answered within 5 s"
    except OSError as e:
        return True, f"connection failed ({type(e).__name__}: {e})"
    finally:
        conn.close()


def main() -> int:
    try:
        return checks()
    except SetupFailed:
        return runner.finish()


def checks() -> int:
    runner.setup("gateway ready", lambda: wait_http_ok(f"{ROOT}/readyz", timeout=30, alive=lambda: proc.poll() is None))

    warm = request("POST", f"{BASE}/chat/completions", headers=bearer(args.key),
                   json_body={"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
    runner.setup("warm-up chat answered", warm.status == 200, f"HTTP {warm.status}")

    first_chunk = threading.Event()
    state: dict = {"result": None, "error": None, "status": None, "chunks_at_kill": None, "end_time": None}

    def on_chunk(n: int, chunk: dict) -> None:
        for choice in chunk.get("choices") or []:
            if (choice.get("delta") or {}).get("content"):
                first_chunk.set()

    def reader() -> None:
        try:
            s = open_stream(f"{BASE}/chat/completions", args.key, {
                "model": args.model, "messages": [{"role": "user", "content": "Tell me a long story."}],
                "stream": True, "stream_options": {"include_usage": True}}, timeout=args.grace + 10)
            state["status"] = s.status
            try:
                if s.status == 200:
                    state["result"] = read_chat_stream(s, on_chunk)
                else:
                    state["error"] = f"HTTP {s.status}: {s.resp.read()[:300]!r}"
            finally:
                s.close()
        except Exception as e:  # noqa: BLE001
            state["error"] = f"{type(e).__name__}: {e}"
        finally:
            state["end_time"] = time.monotonic()
            first_chunk.set()  # never leave the main thread waiting

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    runner.setup("stream started", first_chunk.wait(timeout=15) and not state["error"],
                 state["error"] or "no content chunk within 15 s")
    runner.setup("stream still running when SIGTERM is sent", state["end_time"] is None,
                 "the stream ended before SIGTERM could be sent; the `slow` model is too fast for this test (expected ~2 s)")

    killed_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    print(f"sent SIGTERM to {proc.pid}", flush=True)

    # The listener closes soon after SIGTERM: poll until a new connection fails (a fixed wait could be too short or
    # outlast the stream); a served one before then is the moment before the signal is handled, not a failure.
    probes: list[str] = []

    def new_connection_fails() -> bool:
        ok, detail = probe_new_connection()
        probes.append(detail)
        return ok
    try:
        wait_until(new_connection_fails, 5, "a new connection to fail after SIGTERM", interval=0.05)
        in_flight = state["end_time"] is None
        ok, detail = in_flight, f"{probes[-1]} {time.monotonic() - killed_at:.2f}s after SIGTERM"
        if not in_flight:
            detail += ", but the stream had already ended, so the drain was not observed"
    except WaitTimeout:
        ok, detail = False, f"still served 5 s after SIGTERM: {probes[-1]}"
    record(ok, "new_connection_after_sigterm_fails", detail)

    t.join(timeout=args.grace + 10)
    res = state["result"]
    if state["error"] or res is None:
        record(False, "in_flight_stream_completes", state["error"] or "the stream reader did not finish")
    else:
        problems = []
        if not res.done:
            problems.append("no data: [DONE]")
        if res.finish_reasons != ["stop"]:
            problems.append(f"finish_reasons {res.finish_reasons}")
        if len(res.usage_chunks) != 1 or not (res.usage_chunks[0]["usage"].get("completion_tokens") or 0) > 0:
            problems.append(f"usage chunks {res.usage_chunks}")
        if state["end_time"] is not None and state["end_time"] - killed_at < 0.2:
            problems.append("the stream ended right after SIGTERM (cut short?)")
        if not res.text.strip():
            problems.append("empty text")
        record(not problems, "in_flight_stream_completes",
               "; ".join(problems) if problems else
               f"{len(res.chunks)} chunks, finished {state['end_time'] - killed_at:.2f}s after SIGTERM")

    remaining = max(0.5, args.grace + 1.0 - (time.monotonic() - killed_at))
    try:
        rc = proc.wait(timeout=remaining)
    except subprocess.TimeoutExpired:
        record(False, "exits_0_within_grace", f"still running {args.grace + 1.0:.1f}s after SIGTERM")
        return runner.finish()
    took = time.monotonic() - killed_at
    record(rc == 0, "exits_0_within_grace", f"exit status {rc} after {took:.2f}s (grace {args.grace:g}s)")

    if args.expect_file:
        ok = os.path.isfile(args.expect_file) and os.path.getsize(args.expect_file) > 0
        record(ok, "storage_file_written", args.expect_file)
    return runner.finish()


try:
    code = main()
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    out_log.close()
    err_log.close()
sys.exit(code)
