"""Load and memory watch for scripts/soak.sh: mixed plain, streamed and abandoned requests against the gateway,
its RSS sampled every --sample seconds, a verdict on whether memory levels off after warm-up."""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--admin-key", required=True)
ap.add_argument("--duration", type=float, required=True)
ap.add_argument("--concurrency", type=int, default=16)
ap.add_argument("--sample", type=float, default=10)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--growth-mb", type=float, default=8)
ap.add_argument("--csv", required=True)
args = ap.parse_args()

PROMPT = ("Summarise the following notes for a colleague, keep every number: " + "the quarterly review covered 12 projects, "
          "3 of them late, budget 4.2M, contact ops@example.com or +44 20 7946 0958. " * 14)[:2000]
counts = {"plain": 0, "stream": 0, "abandoned": 0, "gateway_5xx": 0, "other_errors": 0}
lock = threading.Lock()
stop_at = time.monotonic() + args.duration


def body(stream: bool) -> bytes:
    return json.dumps({"model": "soak", "stream": stream, "max_tokens": 64,
                       "messages": [{"role": "user", "content": PROMPT}]}).encode()


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}


def count(name: str) -> None:
    with lock:
        counts[name] += 1


def one(conn: http.client.HTTPConnection, rng: random.Random) -> http.client.HTTPConnection:
    roll = rng.random()
    if roll < 0.10:
        # A client that goes away: sends a request and closes before (or while) the answer comes.
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        b = body(rng.random() < 0.5)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + args.key.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(b)).encode() + b"\r\n\r\n" + b)
        if rng.random() < 0.5:
            try:
                s.recv(200)
            except OSError:
                pass
        s.close()
        count("abandoned")
        return conn
    stream = roll < 0.40
    try:
        conn.request("POST", "/v1/chat/completions", body=body(stream), headers=headers())
        r = conn.getresponse()
        data = r.read()
        if r.status >= 500:
            count("gateway_5xx")
            print(f"5xx: {r.status} {data[:200]!r}", flush=True)
        elif r.status != 200:
            count("other_errors")
        else:
            count("stream" if stream else "plain")
        return conn
    except (OSError, http.client.HTTPException):
        count("other_errors")
        conn.close()
        return http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)


def worker(seed: int) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    while time.monotonic() < stop_at:
        conn = one(conn, rng)
    conn.close()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.concurrency)]
started = time.monotonic()
for t in threads:
    t.start()
samples: list[tuple[float, float, int]] = []
print(f"{'t (s)':>7} {'RSS MB':>8} {'requests':>9}", flush=True)
while time.monotonic() < stop_at:
    time.sleep(min(args.sample, max(0.0, stop_at - time.monotonic())))
    if not alive(args.pid):
        print("the gateway exited", flush=True)
        sys.exit(1)
    with lock:
        total = sum(counts.values())
    samples.append((time.monotonic() - started, rss_mb(args.pid), total))
    t, rss, n = samples[-1]
    print(f"{t:7.0f} {rss:8.1f} {n:9d}", flush=True)
for t in threads:
    t.join(timeout=60)

with open(args.csv, "w") as f:
    f.write("seconds,rss_mb,requests\n")
    for t, rss, n in samples:
        f.write(f"{t:.1f},{rss:.1f},{n}\n")

elapsed = time.monotonic() - started
print(f"requests: {counts} in {elapsed:.0f}s ({sum(counts.values()) / elapsed:.0f}/s)", flush=True)
try:
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    for line in metrics.splitlines():
        if line.startswith("switchboard_request_log_") and not line.startswith("#"):
            print("  " + line, flush=True)
except OSError as e:
    print(f"metrics not read: {e}")

failed = False
third = len(samples) // 3
if third >= 1:
    middle = statistics.median(s[1] for s in samples[third:2 * third])
    last = statistics.median(s[1] for s in samples[2 * third:])
    peak = max(s[1] for s in samples)
    print(f"RSS median: middle third {middle:.1f} MB, last third {last:.1f} MB (growth {last - middle:+.1f} MB, limit "
          f"{args.growth_mb} MB); peak {peak:.1f} MB", flush=True)
    if last - middle > args.growth_mb:
        print("FAIL: memory keeps growing after warm-up", flush=True)
        failed = True
else:
    print("FAIL: too few samples for a verdict (raise DURATION or lower SAMPLE_S)", flush=True)
    failed = True
if counts["gateway_5xx"]:
    print(f"FAIL: {counts['gateway_5xx']} requests failed with a 5xx", flush=True)
    failed = True
print("soak: FAIL" if failed else "soak: PASS", flush=True)
sys.exit(1 if failed else 0)
