#!/usr/bin/env python3
"""Files and Batch APIs end to end through the official `openai` SDK: starts its own fake upstream (counting the
requests it gets per prompt) and its own gateway (SQLite file storage), then

  - uploads a JSONL file (`client.files.create(purpose="batch")`), creates a batch, polls `client.batches.retrieve`
    until it is completed and reads the output file (`client.files.content`): one answer per custom_id;
  - a bad line is refused at upload with a 400 naming its line number;
  - a batch against a slow upstream: the gateway is stopped with SIGTERM in the middle and started again over the
    same storage; the batch completes and no line reached the upstream twice;
  - with --postgres URL (an empty database): three replicas over it share one batch (uploaded through the first,
    created through the second, polled through the third); every line reaches the upstream exactly once.

    python scripts/e2e/batch_test.py --bin .build/debug/switchboard --log-dir /tmp/logs [--postgres postgres://…/db]

Prints PASS/FAIL per check and closes with `batches: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from e2e_lib import Runner, SetupFailed, check, check_eq, wait_http_ok, wait_until

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True, help="the switchboard binary")
ap.add_argument("--log-dir", default=".", help="where gateway-batch.{out,err}.log go")
ap.add_argument("--postgres", help="an empty PostgreSQL database for the three-replica check")
args = ap.parse_args()

runner = Runner("batches")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------------------------------------------
# Fake upstream: answers chat completions, counts requests per prompt, slow for prompts that start with "slow"
# --------------------------------------------------------------------------------------------------------------

COUNTS: dict[str, int] = {}
COUNTS_LOCK = threading.Lock()


class Upstream(BaseHTTPRequestHandler):
    def log_message(self, *_args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        prompt = str(body.get("messages", [{}])[-1].get("content", ""))
        with COUNTS_LOCK:
            COUNTS[prompt] = COUNTS.get(prompt, 0) + 1
        if prompt.startswith("slow"):
            time.sleep(0.4)
        answer = {"id": "chatcmpl-up", "object": "chat.completion", "created": 0, "model": "up-model",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo: " + prompt}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


up_port = free_port()
upstream = ThreadingHTTPServer(("127.0.0.1", up_port), Upstream)
threading.Thread(target=upstream.serve_forever, daemon=True).start()

work = tempfile.mkdtemp(prefix="sb-batch-e2e-")
gw_port = free_port()
config = os.path.join(work, "batch.yaml")
with open(config, "w") as f:
    f.write(f"""
server: {{ listen: "127.0.0.1:{gw_port}", shutdown_grace_s: 20 }}
storage: "sqlite:{work}/batch.db"
auth: {{ master_key: "sk-master", keys: [ {{ name: e2e, key: "sk-e2e" }}, {{ name: other, key: "sk-other" }} ] }}
providers:
  - {{ name: up, kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", api_key: "sk-upstream" }}
models:
  - {{ name: demo, deployments: [ {{ provider: up, model: up-model }} ] }}
batches: {{ concurrency: 4, poll_ms: 100 }}
""")

os.makedirs(args.log_dir, exist_ok=True)
proc: subprocess.Popen | None = None


def start(cfg: str = config, port: int = gw_port, name: str = "batch") -> subprocess.Popen:
    out = open(os.path.join(args.log_dir, f"gateway-{name}.out.log"), "ab")
    err = open(os.path.join(args.log_dir, f"gateway-{name}.err.log"), "ab")
    p = subprocess.Popen([args.bin, "serve", "--config", cfg], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    wait_http_ok(f"http://127.0.0.1:{port}/readyz", timeout=30, alive=lambda: p.poll() is None)
    return p


def stop(p: subprocess.Popen) -> int:
    p.send_signal(signal.SIGTERM)
    return p.wait(timeout=30)


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


signal.signal(signal.SIGTERM, on_signal)

from openai import BadRequestError, NotFoundError, OpenAI  # noqa: E402

client = OpenAI(base_url=f"http://127.0.0.1:{gw_port}/v1", api_key="sk-e2e", max_retries=0)


def line(custom_id: str, prompt: str) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "demo", "messages": [{"role": "user", "content": prompt}], "max_tokens": 8}}


def jsonl(lines: list[dict]) -> bytes:
    return ("\n".join(json.dumps(x) for x in lines) + "\n").encode()


def wait_for(batch_id: str, done, timeout: float, what: str):
    return wait_until(lambda: (lambda b: b if done(b) else None)(client.batches.retrieve(batch_id)), timeout, what,
                      interval=0.2, alive=lambda: proc is not None and proc.poll() is None)


@runner.test
def test_batch_runs_to_completion_through_the_sdk() -> None:
    lines = [line(f"q{i}", f"question {i}") for i in range(5)]
    f = client.files.create(file=("questions.jsonl", jsonl(lines)), purpose="batch")
    check(f.id.startswith("file-") and f.purpose == "batch" and f.filename == "questions.jsonl", f"file object: {f}")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              metadata={"job": "e2e"})
    check_eq(b.status, "validating", "status at creation")
    b = wait_for(b.id, lambda x: x.status in ("completed", "failed", "expired", "cancelled"), 60, "batch completed")
    check_eq(b.status, "completed", "final status")
    check_eq((b.request_counts.total, b.request_counts.completed, b.request_counts.failed), (5, 5, 0), "request counts")
    check_eq(b.metadata, {"job": "e2e"}, "metadata")
    out = [json.loads(x) for x in client.files.content(b.output_file_id).text.splitlines() if x.strip()]
    check_eq(sorted(x["custom_id"] for x in out), [f"q{i}" for i in range(5)], "custom_ids in the output")
    for x in out:
        check_eq(x["response"]["status_code"], 200, "status_code")
        n = x["custom_id"][1:]
        check_eq(x["response"]["body"]["choices"][0]["message"]["content"], f"echo: question {n}", "answer matches its line")
    check(any(x.id == b.id for x in client.batches.list(limit=10).data), "listed")
    other = OpenAI(base_url=f"http://127.0.0.1:{gw_port}/v1", api_key="sk-other", max_retries=0)
    try:
        other.batches.retrieve(b.id)
        raise AssertionError("another key read the batch")
    except NotFoundError:
        pass


@runner.test
def test_a_bad_line_is_refused_with_its_number() -> None:
    bad = jsonl([line("a", "x")]) + b'{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"demo","stream":true}}\n'
    try:
        client.files.create(file=("bad.jsonl", bad), purpose="batch")
        raise AssertionError("a streamed line was accepted")
    except BadRequestError as e:
        check(e.status_code == 400 and "Line 2" in str(e) and "stream" in str(e), f"error: {e}")


@runner.test
def test_a_restart_in_the_middle_runs_no_line_twice() -> None:
    global proc
    n = 16
    lines = [line(f"s{i}", f"slow {i}") for i in range(n)]
    f = client.files.create(file=("slow.jsonl", jsonl(lines)), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    wait_for(b.id, lambda x: x.request_counts.completed >= 4, 60, "a few lines done")
    check(proc is not None, "gateway running")
    rc = stop(proc)
    check_eq(rc, 0, "exit status after SIGTERM")
    mid = client_counts()
    check(0 < sum(mid.values()) < n, f"stopped in the middle (upstream saw {sum(mid.values())} of {n})")
    proc = start()
    b = wait_for(b.id, lambda x: x.status in ("completed", "failed", "expired", "cancelled"), 90, "batch completed after restart")
    check_eq(b.status, "completed", "final status")
    check_eq((b.request_counts.completed, b.request_counts.failed), (n, 0), "request counts")
    counts = client_counts()
    check_eq(sorted(counts), sorted(f"slow {i}" for i in range(n)), "every line reached the upstream")
    twice = {k: v for k, v in counts.items() if v != 1}
    check(not twice, f"lines run more than once: {twice}")
    out = [json.loads(x) for x in client.files.content(b.output_file_id).text.splitlines() if x.strip()]
    check_eq(sorted(x["custom_id"] for x in out), sorted(f"s{i}" for i in range(n)), "one output line per custom_id")


def client_counts(prefix: str = "slow") -> dict[str, int]:
    with COUNTS_LOCK:
        return {k: v for k, v in COUNTS.items() if k.startswith(prefix)}


def test_replicas_share_a_batch_on_postgresql() -> None:
    ports = [free_port() for _ in range(3)]
    replicas: list[subprocess.Popen] = []
    try:
        for i, port in enumerate(ports):
            cfg = os.path.join(work, f"replica{i}.yaml")
            with open(config) as f:
                text = f.read()
            with open(cfg, "w") as f:
                f.write(text.replace(f"127.0.0.1:{gw_port}", f"127.0.0.1:{port}")
                        .replace(f'storage: "sqlite:{work}/batch.db"', f'storage: "{args.postgres}"'))
            replicas.append(start(cfg, port, f"batch-replica{i}"))
        clients = [OpenAI(base_url=f"http://127.0.0.1:{p}/v1", api_key="sk-e2e", max_retries=0) for p in ports]
        n = 30
        lines = [line(f"p{i}", f"slow pg {i}") for i in range(n)]
        f = clients[0].files.create(file=("replicas.jsonl", jsonl(lines)), purpose="batch")
        b = clients[1].batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        b = wait_until(lambda: (lambda x: x if x.status in ("completed", "failed", "expired", "cancelled") else None)(
            clients[2].batches.retrieve(b.id)), 90, "batch completed on three replicas", interval=0.2)
        check_eq(b.status, "completed", "final status")
        check_eq((b.request_counts.completed, b.request_counts.failed), (n, 0), "request counts")
        counts = client_counts("slow pg")
        check_eq(sorted(counts), sorted(f"slow pg {i}" for i in range(n)), "every line reached the upstream")
        twice = {k: v for k, v in counts.items() if v != 1}
        check(not twice, f"lines served more than once across replicas: {twice}")
        out = [json.loads(x) for x in clients[0].files.content(b.output_file_id).text.splitlines() if x.strip()]
        check_eq(sorted(x["custom_id"] for x in out), sorted(f"p{i}" for i in range(n)), "one output line per custom_id")
    finally:
        for r in replicas:
            if r.poll() is None:
                stop(r)


if args.postgres:
    runner.test(test_replicas_share_a_batch_on_postgresql)


code = 1
try:
    proc = runner.setup("gateway started", start)
    code = runner.run()
except SetupFailed:
    code = runner.finish()
finally:
    if proc is not None and proc.poll() is None:
        stop(proc)
    upstream.shutdown()
sys.exit(code)
