#!/usr/bin/env python3
"""Live configuration reload under load: starts its own gateway and two slow fake upstreams, keeps 50 streaming
requests running while the configuration file is rewritten and reloaded 20 times — alternately by SIGHUP and by
POST /admin/config/reload — and checks that

  - every request succeeds and every stream ends normally (finish_reason "stop", data: [DONE]),
  - each stream's content comes entirely from one provider (the one `x-switchboard-provider` names): no mixed
    requests, whichever configuration was in force when it started,
  - each reload is answered (POST) or seen in `GET /admin/config` (SIGHUP) with the next version,
  - after the last reload new requests follow the last configuration,
  - an invalid file sent by SIGHUP leaves the gateway serving the configuration in force and logs its problems,
  - `/metrics` counts the reloads by result and shows the configuration's hash.

    python scripts/e2e/reload_test.py --bin .build/debug/switchboard --log-dir /tmp/logs [--streams 50 --reloads 20]

Only the standard library. Prints PASS/FAIL per check and closes with `reload: N passed, M failed`; exits 1 on any
failure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from e2e_lib import (Runner, SetupFailed, bearer, check, check_eq, free_port, open_stream, read_chat_stream, request,
                     stop_processes, wait_http_ok, wait_until)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True, help="the switchboard binary")
ap.add_argument("--log-dir", default=".", help="where gateway-reload.{out,err}.log go")
ap.add_argument("--streams", type=int, default=50, help="streaming requests kept running at once")
ap.add_argument("--reloads", type=int, default=20, help="reloads while they run (alternately SIGHUP and POST)")
ap.add_argument("--chunks", type=int, default=25, help="chunks per streamed answer")
ap.add_argument("--chunk-ms", type=float, default=100, help="delay between chunks (25 x 100 ms = a 2.5 s stream)")
args = ap.parse_args()

KEY, MASTER = "sk-reload", "sk-reload-master"
runner = Runner("reload")
record = runner.record


# ----------------------------------------------------------------------------------------------------------------
# Two slow OpenAI-compatible upstreams whose every chunk names them
# ----------------------------------------------------------------------------------------------------------------

SEEN = {"alpha": 0, "beta": 0}
SEEN_LOCK = threading.Lock()


def upstream(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_a) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            model = body.get("model", "?")
            with SEEN_LOCK:
                SEEN[name] += 1
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()

            def send(obj: object) -> None:
                data = f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            try:
                for i in range(args.chunks):
                    last = i == args.chunks - 1
                    send({"id": f"{name}-{i}", "object": "chat.completion.chunk", "created": 0, "model": model,
                          "choices": [{"index": 0, "delta": {"content": f"{name}:{i} "}, "finish_reason": "stop" if last else None}]})
                    if not last:
                        time.sleep(args.chunk_ms / 1000)
                send({"id": f"{name}-u", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                      "usage": {"prompt_tokens": 5, "completion_tokens": args.chunks, "total_tokens": 5 + args.chunks}})
                send("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # listen() backlog: the default 5 drops connections when 50 streams open at once

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


alpha, beta = upstream("alpha"), upstream("beta")
UPSTREAMS = {"alpha": alpha.server_address[1], "beta": beta.server_address[1]}
PORT = free_port()
ROOT = f"http://127.0.0.1:{PORT}"


def config(version: int) -> str:
    """Version v: `chat` on alpha when v is even, beta when odd; the rule sends the virtual `auto` the other way."""
    chat, other = ("alpha", "beta") if version % 2 == 0 else ("beta", "alpha")
    return f"""# reload_test.py, configuration version {version}
server: {{ listen: "127.0.0.1:{PORT}" }}
storage: memory
auth: {{ master_key: "{MASTER}", keys: [ {{ name: reload, key: "{KEY}" }} ] }}
providers:
  - {{ name: alpha, kind: openai, base_url: "http://127.0.0.1:{UPSTREAMS['alpha']}/v1", api_key: "sk-up-alpha" }}
  - {{ name: beta, kind: openai, base_url: "http://127.0.0.1:{UPSTREAMS['beta']}/v1", api_key: "sk-up-beta" }}
models:
  - {{ name: chat, deployments: [ {{ provider: {chat}, model: {chat}-model }} ] }}
  - {{ name: via-{other}, deployments: [ {{ provider: {other}, model: {other}-model }} ] }}
router:
  models: [auto]
  rules:
    - {{ name: to-{other}, when: {{ model: auto }}, route: {{ model: via-{other} }} }}
routing: {{ retries: 2, timeout_s: 30 }}   # a connection the fake upstream drops under load is retried on the same provider, as in production
"""


def expected(model: str, version: int) -> str:
    chat, other = ("alpha", "beta") if version % 2 == 0 else ("beta", "alpha")
    return chat if model == "chat" else other


work = tempfile.mkdtemp(prefix="switchboard-reload-")
CFG = os.path.join(work, "gateway.yaml")


def write_config(text: str) -> None:
    tmp = CFG + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, CFG)  # a reader never sees half a file


os.makedirs(args.log_dir, exist_ok=True)
ERR_LOG = os.path.join(args.log_dir, "gateway-reload.err.log")
write_config(config(0))
proc = subprocess.Popen([args.bin, "serve", "--config", CFG, "--log-level", "info"],
                        stdout=open(os.path.join(args.log_dir, "gateway-reload.out.log"), "wb"), stderr=open(ERR_LOG, "wb"),
                        stdin=subprocess.DEVNULL)
print(f"started gateway pid {proc.pid} on {ROOT}; upstreams {UPSTREAMS}", flush=True)


def alive() -> bool:
    return proc.poll() is None


def admin_config() -> dict:
    r = request("GET", f"{ROOT}/admin/config", headers=bearer(MASTER), timeout=10)
    check_eq(r.status, 200, "GET /admin/config")
    return r.json()


# ----------------------------------------------------------------------------------------------------------------
# Streams
# ----------------------------------------------------------------------------------------------------------------

class Outcomes:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.by_provider: dict[str, int] = {}


def one_stream(model: str) -> tuple[str | None, str | None]:
    """(provider, None) for a good stream from one provider; (None, why) otherwise."""
    stream = open_stream(f"{ROOT}/v1/chat/completions", KEY,
                         {"model": model, "stream": True, "messages": [{"role": "user", "content": "hello"}]}, timeout=60)
    try:
        if stream.status != 200:
            return None, f"{model}: HTTP {stream.status}: {stream.resp.read()[:300]!r}"
        said = stream.headers.get("x-switchboard-provider")
        result = read_chat_stream(stream)
    finally:
        stream.close()
    names = {part.split(":")[0] for part in result.text.split()}
    want = " ".join(f"{said}:{i}" for i in range(args.chunks))
    if not result.done or result.finish_reasons != ["stop"]:
        return None, f"{model}: stream did not end normally (done={result.done}, finish={result.finish_reasons})"
    if len(names) != 1 or names != {said} or result.text.strip() != want:
        return None, f"{model}: mixed or incomplete content from {sorted(names)} (header {said}): {result.text[:120]!r}"
    return said, None


def streamer(i: int, stop: threading.Event, out: Outcomes) -> None:
    model = "chat" if i % 2 == 0 else "auto"
    while True:
        try:
            provider, why = one_stream(model)
        except Exception as e:  # noqa: BLE001 - every failure is counted
            provider, why = None, f"{model}: {type(e).__name__}: {e}"
        with out.lock:
            if provider:
                out.ok += 1
                out.by_provider[provider] = out.by_provider.get(provider, 0) + 1
            else:
                out.failures.append(why or "?")
        if stop.is_set():
            return


def main() -> int:
    try:
        runner.setup("gateway ready", lambda: wait_http_ok(f"{ROOT}/readyz", timeout=60, alive=alive))
        first = runner.setup("configuration version 1 in force", admin_config)
    except SetupFailed:
        stop_processes([proc])
        return runner.finish()
    record(first.get("version") == 1 and first.get("source") == os.path.realpath(CFG) and len(first.get("hash", "")) == 64,
           "GET /admin/config shows version 1, the file's path and its hash",
           f"version {first.get('version')}, source {first.get('source')}")

    stop, out = threading.Event(), Outcomes()
    threads = [threading.Thread(target=streamer, args=(i, stop, out), daemon=True) for i in range(args.streams)]
    for t in threads:
        t.start()
    # Every stream has reached its upstream before the first reload.
    wait_until(lambda: sum(SEEN.values()) >= args.streams, 30, f"{args.streams} streams at the upstreams", alive=alive)

    reload_errors: list[str] = []
    for n in range(1, args.reloads + 1):
        write_config(config(n))
        want_version = n + 1
        try:
            if n % 2 == 1:
                proc.send_signal(signal.SIGHUP)
                wait_until(lambda: admin_config().get("version") == want_version, 10, f"SIGHUP reload to version {want_version}",
                           alive=alive)
            else:
                r = request("POST", f"{ROOT}/admin/config/reload", headers=bearer(MASTER), timeout=10)
                doc = r.json()
                if r.status != 200 or doc.get("status") != "reloaded" or doc.get("version") != want_version:
                    reload_errors.append(f"POST reload {n}: HTTP {r.status} {str(doc)[:200]}")
        except Exception as e:  # noqa: BLE001
            reload_errors.append(f"reload {n}: {type(e).__name__}: {e}")
        time.sleep(0.25)  # spread the reloads over several streams' lifetimes
    stop.set()
    for t in threads:
        t.join(timeout=60)
    record(not reload_errors, f"{args.reloads} reloads applied, alternately by SIGHUP and POST", "; ".join(reload_errors[:3]))
    record(not out.failures and out.ok >= args.streams * 2,
           f"every stream succeeded from one provider while reloading ({out.ok} streams, by provider {out.by_provider})",
           f"{len(out.failures)} failed: {out.failures[:3]}")
    record(out.by_provider.get("alpha", 0) > 0 and out.by_provider.get("beta", 0) > 0, "streams were served by both providers",
           str(out.by_provider))

    last = args.reloads
    final = admin_config()
    record(final.get("version") == last + 1, f"version {last + 1} in force after the last reload", f"version {final.get('version')}")
    wrong = []
    for model in ("chat", "auto"):
        for _ in range(3):
            provider, why = one_stream(model)
            if provider != expected(model, last):
                wrong.append(why or f"{model} served by {provider}, expected {expected(model, last)}")
    record(not wrong, "new requests follow the last configuration", "; ".join(wrong[:3]))

    # An invalid file on SIGHUP: rejected, logged with its problems, the configuration in force stays.
    write_config(config(last).replace("provider: alpha", "provider: alpa"))
    proc.send_signal(signal.SIGHUP)
    try:
        wait_until(lambda: "Configuration reload rejected" in open(ERR_LOG, errors="replace").read(), 10,
                   "the rejected reload in the log", alive=alive)
        log = open(ERR_LOG, errors="replace").read()
        record('unknown provider \\"alpa\\"' in log or 'unknown provider "alpa"' in log,
               "the log names the problem with its key path", log[-400:])
    except Exception as e:  # noqa: BLE001
        record(False, "the rejected reload is logged", str(e))
    record(alive() and admin_config().get("version") == last + 1, "the gateway still serves the configuration in force")
    provider, why = one_stream("chat")
    record(provider == expected("chat", last), "requests still succeed after the rejected reload", why or "")
    metrics = request("GET", f"{ROOT}/metrics", timeout=10).body.decode()
    ok_line = f'switchboard_config_reloads_total{{result="ok"}} {last}'
    record(ok_line in metrics and 'switchboard_config_reloads_total{result="rejected"} 1' in metrics
           and f'switchboard_config_info{{hash="{final.get("hash")}"}} 1' in metrics,
           "/metrics counts the reloads by result and shows the hash in force",
           "\n".join(l for l in metrics.splitlines() if l.startswith("switchboard_config"))[:600])
    secrets = [s for s in ("sk-up-alpha", "sk-up-beta", KEY, MASTER) if s in open(ERR_LOG, errors="replace").read()]
    record(not secrets, "no secret in the gateway's log", str(secrets))

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    record(rc == 0, "the gateway exits 0 on SIGTERM afterwards", f"exit status {rc}")
    return runner.finish()


if __name__ == "__main__":
    try:
        code = main()
    finally:
        stop_processes([proc])
        alpha.shutdown()
        beta.shutdown()
    sys.exit(code)
