"""End-to-end hardening checks on the built binary: what only a real server and real sockets show.

HTTP/1.0 and `Connection: close` clients get their connection closed after the answer; `CONNECT` gets a 405 and a
closed connection (no hang: the answer to a CONNECT has no body and ends with the connection); a client that sends its body too slowly gets 408 and is disconnected, and so
does one that trickles its headers a line at a time past `waf.client_timeout_s` (both counted in
`switchboard_refused_total{reason="request_timeout"}`); a deeply nested
body costs little on every route and does not stall `/healthz`; a client that goes away before its answer cancels
the upstream request (recorded 499, not billed); `server.max_connections` holds new connections in the backlog
until a place frees; with the descriptor limit at 256 and 300 connections the accept loop stays idle.

    python3 scripts/e2e/hardening_test.py --bin .build/debug/switchboard --work /tmp/hardening
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from e2e_lib import (Runner, SetupFailed, bearer, check, check_eq, free_port, request, stop_processes, wait_http_ok,
                     wait_until)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)

runner = Runner("hardening")
MASTER = "sk-hardening-master-0123456789"


class SlowUpstream(BaseHTTPRequestHandler):
    """Answers chat completions after `delay` seconds; counts calls and how many found their client gone."""
    protocol_version = "HTTP/1.1"
    calls = 0
    lock = threading.Lock()
    delay = 3.0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with SlowUpstream.lock:
            SlowUpstream.calls += 1
        time.sleep(SlowUpstream.delay)   # the point: an upstream slower than the client that gives up on it
        body = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "late"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}).encode()
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *a: object) -> None:
        pass


upstream = ThreadingHTTPServer(("127.0.0.1", 0), SlowUpstream)
threading.Thread(target=upstream.serve_forever, daemon=True).start()

PORT = free_port()
CONFIG = os.path.join(args.work, "hardening.yaml")
with open(CONFIG, "w") as f:
    f.write(f"""
server: {{ listen: "127.0.0.1:{PORT}", request_timeout_s: 1, max_connections: 40 }}
waf: {{ client_timeout_s: 2 }}
auth: {{ master_key: "{MASTER}", keys: [ {{ name: user, key: "sk-user" }} ] }}
storage: memory
providers:
  - {{ name: slow, kind: openai, base_url: "http://127.0.0.1:{upstream.server_port}/v1", api_key: "sk-upstream-key-0123456789" }}
  - {{ name: sim, kind: mock }}
models:
  - {{ name: slow, deployments: [ {{ provider: slow, model: m, price: {{ input: 1, output: 1 }} }} ] }}
  - {{ name: demo, deployments: [ {{ provider: sim, model: sim-1 }} ] }}
routing: {{ retries: 0 }}
""")


def start(name: str, config: str, nofile: int | None = None) -> subprocess.Popen:
    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return subprocess.Popen([args.bin, "serve", "--config", config], stdin=subprocess.DEVNULL, preexec_fn=limit,
                            stdout=open(os.path.join(args.work, f"{name}.out.log"), "w"),
                            stderr=open(os.path.join(args.work, f"{name}.err.log"), "w"))


def read_all(s: socket.socket) -> tuple[bytes, bool]:
    """Reads until the server closes the connection or the socket times out; returns the bytes and whether it closed."""
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def raw(port: int, data: bytes, *, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Sends `data` on a new connection; returns what came back and whether the server closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    result = read_all(s)
    s.close()
    return result


def nested(depth: int) -> dict:
    return {"model": "demo", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "unused": json.loads("[" * depth + "]" * depth)}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accepted_connections(pid: int, port: int) -> int:
    """Established TCP connections on `port` that process `pid` has accepted (Linux /proc: the sockets among its
    descriptors; connections still waiting in the listen backlog belong to no descriptor)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                count += 1
    return count


procs = [start("gateway", CONFIG)]
try:
    runner.setup("gateway ready", lambda: wait_http_ok(f"http://127.0.0.1:{PORT}/healthz", timeout=30,
                                                       alive=lambda: procs[0].poll() is None))
except SetupFailed:
    stop_processes(procs)
    upstream.shutdown()
    raise SystemExit(runner.finish())
BASE = f"http://127.0.0.1:{PORT}"


@runner.test
def test_http10_connection_is_closed_after_the_answer() -> None:
    out, closed = raw(PORT, b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n", timeout=3)
    check(out.startswith(b"HTTP/1.0 200") and b'"ok"' in out, f"answer: {out[:200]!r}")
    check(b"connection: close" in out.lower(), f"no connection: close: {out[:300]!r}")
    check(closed, "the connection stayed open after an HTTP/1.0 answer")


@runner.test
def test_an_http10_stream_is_unchunked_and_ends_with_the_connection() -> None:
    body = json.dumps({"model": "demo", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    out, closed = raw(PORT, b"POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer sk-user\r\n"
                      b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body, timeout=5)
    head, _, rest = out.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.0 200") and b"transfer-encoding" not in head.lower(), f"head: {head[:300]!r}")
    check(rest.startswith(b"data: ") and b"data: [DONE]" in rest, f"body: {rest[:200]!r}")
    check(closed, "an HTTP/1.0 stream did not end with the connection")


@runner.test
def test_connection_close_is_honoured() -> None:
    out, closed = raw(PORT, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=3)
    check(out.startswith(b"HTTP/1.1 200") and closed, f"closed={closed}: {out[:200]!r}")


@runner.test
def test_connect_gets_405_and_a_closed_connection() -> None:
    started = time.monotonic()
    out, closed = raw(PORT, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", timeout=5)
    check(out.startswith(b"HTTP/1.1 405"), f"answer: {out[:200]!r}")
    check(b"connection: close" in out.lower(), f"answer without connection: close: {out[:300]!r}")
    check(closed and time.monotonic() - started < 2, "CONNECT left the connection hanging")


def drip(s: socket.socket, data: bytes, every: float) -> tuple[bytes, bool, float]:
    """Sends `data` on `s` every `every` seconds until the server answers or closes; returns what came back, whether
    the server closed the connection, and the seconds it took."""
    started = time.monotonic()
    done = threading.Event()

    def send() -> None:
        while not done.is_set():
            try:
                s.sendall(data)
            except OSError:
                return
            time.sleep(every)    # the point: a client this slow is what the tests are about

    dripper = threading.Thread(target=send, daemon=True)
    dripper.start()
    out, closed = read_all(s)
    done.set()
    dripper.join()
    s.close()
    return out, closed, time.monotonic() - started


def refused_timeouts() -> int:
    m = re.search(r'^switchboard_refused_total\{reason="request_timeout"\} (\d+)', request("GET", BASE + "/metrics", timeout=5).body.decode(), re.M)
    return int(m.group(1)) if m else -1


@runner.test
def test_a_slow_body_gets_408_and_is_disconnected() -> None:
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-user\r\n"
              b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"model\":")
    out, closed, elapsed = drip(s, b" ", 0.1)     # one byte every 100 ms: never enough, never idle
    check(out.startswith(b"HTTP/1.1 408") and b"request_timeout" in out, f"answer: {out[:300]!r}")
    check(closed and elapsed < 4, f"closed={closed} after {elapsed:.1f}s (request_timeout_s is 1)")


@runner.test
def test_a_slowloris_head_gets_408_within_the_client_timeout_and_is_disconnected() -> None:
    before = refused_timeouts()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=8)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
    out, closed, elapsed = drip(s, b"X-Drip: 1\r\n", 0.2)    # a header line every 200 ms: never idle, never done
    check(out.startswith(b"HTTP/1.1 408") and b'"code":"request_timeout"' in out, f"answer: {out[:300]!r}")
    check(b"did not arrive in time" in out, f"answer: {out[:300]!r}")
    check(closed and 1.5 < elapsed < 4, f"closed={closed} after {elapsed:.1f}s (waf.client_timeout_s is 2)")
    check_eq(refused_timeouts(), before + 1, "switchboard_refused_total{reason=\"request_timeout\"} after one slow head")


@runner.test
def test_a_slow_anthropic_body_gets_its_408_in_anthropics_shape() -> None:
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: sk-user\r\n"
              b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
    out, closed, elapsed = drip(s, b" ", 0.1)
    _, _, body = out.partition(b"\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 408") and closed and elapsed < 4, f"closed={closed} after {elapsed:.1f}s: {out[:200]!r}")
    check_eq(json.loads(body).get("type"), "error", "the 408 on /v1/messages in Anthropic's shape")


@runner.test
def test_deep_nesting_is_cheap_on_every_route_and_healthz_stays_quick() -> None:
    body = json.dumps(nested(500)).encode()
    for path in ("/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"):
        started = time.monotonic()
        r = request("POST", BASE + path, headers=bearer("sk-user") | {"content-type": "application/json"}, body=body, timeout=10)
        elapsed = time.monotonic() - started
        check(r.status in (200, 400), f"{path}: {r.status} {r.body[:200]!r}")
        check(elapsed < 1.0, f"{path} took {elapsed:.2f}s for a 3 KB body nested 500 deep")
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(request, "POST", BASE + "/v1/messages", headers=bearer("sk-user") | {"content-type": "application/json"},
                               body=body, timeout=10) for _ in range(6)]
        started = time.monotonic()
        check_eq(request("GET", BASE + "/healthz", timeout=5).status, 200, "healthz during deep requests")
        check(time.monotonic() - started < 1.0, "healthz stalled behind deeply nested requests")
        for fu in futures:
            check(fu.result().status in (200, 400), "a deep request failed")


@runner.test
def test_a_client_that_goes_away_cancels_its_upstream_request() -> None:
    before = SlowUpstream.calls
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    body = json.dumps({"model": "slow", "messages": [{"role": "user", "content": "hi"}]}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-user\r\nX-Request-Id: req-gone-1\r\n"
              b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    wait_until(lambda: SlowUpstream.calls > before, 5, "the request to reach the upstream", interval=0.02)
    check_eq(SlowUpstream.calls, before + 1, "upstream calls for one request")
    s.close()                                   # gone before the answer (the upstream takes 3 s)

    def logged() -> dict | None:
        r = request("GET", BASE + "/admin/logs/req-gone-1", headers=bearer(MASTER), timeout=5)
        return r.json() if r.status == 200 else None
    record = wait_until(logged, 5, "the request-log record of the abandoned request", interval=0.1)
    check_eq(record.get("status"), 499, "recorded status of a request whose client went away")
    check_eq(record.get("cost_usd", 0), 0, "cost of an abandoned request")
    check_eq(SlowUpstream.calls, before + 1, "upstream calls (no retry after the client went)")


@runner.test
def test_max_connections_holds_new_connections_until_a_place_frees() -> None:
    gateway = procs[0].pid
    wait_until(lambda: accepted_connections(gateway, PORT) == 0, 5, "the gateway to let go of earlier tests' connections")
    idle = [socket.create_connection(("127.0.0.1", PORT), timeout=5) for _ in range(40)]
    wait_until(lambda: accepted_connections(gateway, PORT) == 40, 5, "the gateway to accept the 40 idle connections")
    waiting = socket.create_connection(("127.0.0.1", PORT), timeout=1)   # accepted by the kernel's backlog
    waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    # The point: nothing may come back within this second (a held connection), so the test waits it out.
    try:
        got = waiting.recv(4096)
        answered = bool(got)
    except socket.timeout:
        answered = False
    check(not answered, "a connection past server.max_connections was served at once")
    check_eq(accepted_connections(gateway, PORT), 40, "connections the gateway accepted with server.max_connections 40")
    for s in idle[:10]:
        s.close()
    waiting.settimeout(5)
    got = waiting.recv(4096)
    check(got.startswith(b"HTTP/1.1 200"), f"the held connection was not served once places freed: {got[:100]!r}")
    waiting.close()
    for s in idle[10:]:
        s.close()


@runner.test
def test_the_accept_loop_stays_idle_when_descriptors_run_short() -> None:
    port = free_port()
    config = os.path.join(args.work, "fd.yaml")
    with open(config, "w") as f:
        f.write(f'server: {{ listen: "127.0.0.1:{port}" }}\nauth: {{ keys: [ {{ name: u, key: "sk-user" }} ] }}\n'
                f'storage: memory\nproviders: [ {{ name: sim, kind: mock }} ]\nmodels: [ {{ name: demo, deployments: [ {{ provider: sim, model: s }} ] }} ]\n')
    p = start("fd-gateway", config, nofile=256)
    procs.append(p)
    wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30, alive=lambda: p.poll() is None)
    # The connection cap the gateway chose for 256 descriptors, from its notice.
    with open(os.path.join(args.work, "fd-gateway.err.log")) as f:
        notice = re.search(r"max_connections=(\d+).*server\.max_connections lowered", f.read())
    check(notice, "no notice that server.max_connections was lowered to fit 256 descriptors")
    cap = int(notice.group(1))
    check(cap < 256, f"a connection cap of {cap} does not fit 256 descriptors")
    conns = []
    for _ in range(300):
        try:
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    check_eq(len(conns), 300, "connections made (the kernel's backlog holds those past the cap)")
    # Measure only once the gateway holds all the connections it will take (a burst may overshoot the cap by a few).
    wait_until(lambda: accepted_connections(p.pid, port) >= cap, 10, f"the gateway to accept its cap of {cap} connections",
               alive=lambda: p.poll() is None)
    start_cpu = cpu_seconds(p.pid)
    time.sleep(2.0)   # the point: the window in which an idle accept loop must use (almost) no CPU
    used = cpu_seconds(p.pid) - start_cpu
    check(used < 0.3, f"the gateway used {used:.2f}s of CPU in 2 s with 300 idle connections and 256 descriptors")
    for s in conns:
        s.close()

    def healthz() -> bool:
        return request("GET", f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
    wait_until(healthz, 5, "healthz to answer 200 once the connections closed", alive=lambda: p.poll() is None)


def tunables(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return [v for v in f.read().split(b"\0") if v.startswith(b"GLIBC_TUNABLES=")]


@runner.test
def test_serve_runs_with_a_larger_malloc_cache_unless_the_operator_chose() -> None:
    # `switchboard serve` restarts itself once with glibc's per-thread cache of freed blocks raised (MallocTuning.swift):
    # the same process, serving, with the variable set.
    check_eq(tunables(procs[0].pid), [b"GLIBC_TUNABLES=glibc.malloc.tcache_count=256"], "the gateway's GLIBC_TUNABLES")
    # An operator's own setting is kept as it is.
    port = free_port()
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=7")
    p = subprocess.Popen([args.bin, "serve", "--config", CONFIG, "--listen", f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL, env=env,
                         stdout=open(os.path.join(args.work, "tunables.out.log"), "w"),
                         stderr=open(os.path.join(args.work, "tunables.err.log"), "w"))
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30, alive=lambda: p.poll() is None)
        check_eq(tunables(p.pid), [b"GLIBC_TUNABLES=glibc.malloc.tcache_count=7"], "an operator's GLIBC_TUNABLES")
    finally:
        stop_processes([p])


try:
    code = runner.run()
finally:
    stop_processes(procs)
    upstream.shutdown()
raise SystemExit(code)
