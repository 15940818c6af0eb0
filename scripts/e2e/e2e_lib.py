"""Shared helpers for Switchboard's end-to-end tests: a tiny test runner, raw HTTP and SSE over http.client.

Only the standard library is used here, so the raw checks do not depend on which HTTP client the openai SDK
happens to bundle (openai 3.x ships `httpx2`, not `httpx`).
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable, Iterator, Optional


# --------------------------------------------------------------------------------------------------------------
# Test runner
# --------------------------------------------------------------------------------------------------------------

class Skip(Exception):
    """Raised by a test that cannot run in this setup (only ever on explicit request, e.g. --skip-remote)."""


class SetupFailed(Exception):
    """Raised by `Runner.setup` when a precondition fails; already reported as a failure, so callers only stop."""


class Runner:
    """Registers tests with @runner.test, runs them in order, prints PASS/FAIL lines and a closing summary line
    of the form `LABEL: N passed, M failed` (plus `, K skipped` when any were skipped).

    Only checks of behaviour count as passed. Preconditions (a process started, a key made) go through `setup`:
    a `setup:` line when they hold, a counted failure and `SetupFailed` when they do not."""

    def __init__(self, label: str):
        self.label = label
        self.tests: list[tuple[str, Callable[[], None]]] = []
        self.passed: list[str] = []
        self.failed: list[str] = []
        self.skipped: list[str] = []

    def test(self, fn: Callable[[], None]) -> Callable[[], None]:
        self.tests.append((fn.__name__.removeprefix("test_"), fn))
        return fn

    def run(self, only: Optional[list[str]] = None) -> int:
        for name, fn in self.tests:
            if only and not any(o in name for o in only):
                continue
            started = time.monotonic()
            try:
                fn()
            except Skip as e:
                self.skipped.append(name)
                print(f"SKIP {name}: {e}", flush=True)
                continue
            except Exception as e:  # noqa: BLE001 - every failure is reported, never swallowed
                elapsed = time.monotonic() - started
                self.failed.append(name)
                print(f"FAIL {name} ({elapsed:.2f}s): {type(e).__name__}: {e}", flush=True)
                for line in traceback.format_exc().rstrip().splitlines():
                    print(f"     | {line}", flush=True)
                continue
            elapsed = time.monotonic() - started
            self.passed.append(name)
            print(f"PASS {name} ({elapsed:.2f}s)", flush=True)
        return self.finish()

    def record(self, ok: bool, name: str, detail: str = "") -> bool:
        """A check made in line (scripts that drive processes step by step): PASS/FAIL with its detail."""
        (self.passed if ok else self.failed).append(name)
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    def setup(self, what: str, step: Callable[[], object] | bool, failure: str = "") -> object:
        """A precondition, not a check: runs `step` (or takes a bool). When it holds, prints `setup: WHAT` and
        counts nothing; when it is False or raises, records `FAIL setup: WHAT` (with `failure` or the error) and
        raises SetupFailed. Returns what `step` returned."""
        started = time.monotonic()
        try:
            value = step() if callable(step) else step
            if value is False:
                raise AssertionError(failure or "did not hold")
        except SetupFailed:
            raise
        except Exception as e:  # noqa: BLE001 - reported, then the script stops
            self.failed.append(f"setup: {what}")
            print(f"FAIL setup: {what}: {type(e).__name__}: {e}", flush=True)
            raise SetupFailed(what) from e
        print(f"setup: {what} ({time.monotonic() - started:.2f}s)", flush=True)
        return value

    def finish(self) -> int:
        if self.failed:
            print(f"{self.label} failures: {', '.join(self.failed)}", flush=True)
        line = f"{self.label}: {len(self.passed)} passed, {len(self.failed)} failed"
        if self.skipped:
            line += f", {len(self.skipped)} skipped"
        print(line, flush=True)
        if not self.passed and not self.failed:
            return 1  # ran nothing: treat as a failure, never as a pass
        return 1 if self.failed else 0


def check(cond: object, message: str) -> None:
    """assert that survives `python -O`."""
    if not cond:
        raise AssertionError(message)


def check_eq(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


# --------------------------------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"response body is not JSON ({e}): {self.body[:500]!r}") from None

    def error_object(self) -> dict:
        """The `error` object of an OpenAI-shaped error body, checked for its four keys."""
        doc = self.json()
        check(isinstance(doc, dict) and isinstance(doc.get("error"), dict),
              f"expected an OpenAI-shaped error body {{\"error\": {{...}}}}, got {self.body[:500]!r}")
        err = doc["error"]
        for key in ("message", "type", "param", "code"):
            check(key in err, f"error object lacks key {key!r}: {err!r}")
        check(isinstance(err["message"], str) and err["message"], f"error.message must be a non-empty string: {err!r}")
        check(isinstance(err["type"], str) and err["type"], f"error.type must be a non-empty string: {err!r}")
        return err


def split_url(url: str) -> tuple[str, int, str]:
    u = urllib.parse.urlsplit(url)
    check(u.scheme == "http", f"only http:// URLs are supported here, got {url}")
    return u.hostname or "127.0.0.1", u.port or 80, (u.path or "/") + (f"?{u.query}" if u.query else "")


def headers_of(resp: http.client.HTTPResponse) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in resp.getheaders():
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def request(method: str, url: str, *, headers: Optional[dict[str, str]] = None, body: Optional[bytes] = None,
            json_body: object = None, timeout: float = 30.0) -> RawResponse:
    host, port, path = split_url(url)
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, headers_of(resp), data)
    finally:
        conn.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --------------------------------------------------------------------------------------------------------------
# Server-sent events
# --------------------------------------------------------------------------------------------------------------

@dataclass
class SSEStream:
    """An open streaming response; iterate `events()` for each event's data string ("[DONE]" included)."""
    conn: http.client.HTTPConnection
    resp: http.client.HTTPResponse
    status: int
    headers: dict[str, str]
    raw_lines: list[str] = field(default_factory=list)

    def events(self) -> Iterator[str]:
        data_lines: list[str] = []
        while True:
            line_b = self.resp.readline()
            if not line_b:  # EOF
                if data_lines:
                    yield "\n".join(data_lines)
                return
            line = line_b.decode("utf-8").rstrip("\r\n")
            self.raw_lines.append(line)
            if line == "":
                if data_lines:
                    yield "\n".join(data_lines)
                    data_lines = []
                continue
            if line.startswith(":"):
                continue  # comment / keep-alive
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data_lines.append(value)
            # event:, id:, retry: are accepted and ignored

    def close(self) -> None:
        try:
            self.resp.close()
        finally:
            self.conn.close()


def open_stream(url: str, key: str, payload: dict, *, timeout: float = 30.0,
                extra_headers: Optional[dict[str, str]] = None) -> SSEStream:
    host, port, path = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    hdrs = {"Content-Type": "application/json", "Accept": "text/event-stream", **bearer(key), **(extra_headers or {})}
    conn.request("POST", path, body=json.dumps(payload).encode(), headers=hdrs)
    resp = conn.getresponse()
    return SSEStream(conn, resp, resp.status, headers_of(resp))


@dataclass
class StreamResult:
    chunks: list[dict]
    done: bool           # a `data: [DONE]` event arrived
    events_after_done: int
    text: str
    finish_reasons: list[str]
    usage_chunks: list[dict]


def read_chat_stream(stream: SSEStream, on_chunk: Optional[Callable[[int, dict], None]] = None) -> StreamResult:
    """Reads a chat-completions SSE stream to its end, checking each event is a JSON chunk or [DONE]."""
    chunks: list[dict] = []
    done = False
    after_done = 0
    text_parts: list[str] = []
    finish: list[str] = []
    usage_chunks: list[dict] = []
    for data in stream.events():
        if done:
            after_done += 1
            continue
        if data == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            raise AssertionError(f"stream event is neither JSON nor [DONE]: {data[:300]!r}") from None
        check(isinstance(chunk, dict), f"stream chunk is not a JSON object: {data[:300]!r}")
        check("error" not in chunk, f"stream carried an error event: {data[:500]}")
        chunks.append(chunk)
        if on_chunk:
            on_chunk(len(chunks), chunk)
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                text_parts.append(delta["content"])
            if choice.get("finish_reason"):
                finish.append(choice["finish_reason"])
        if chunk.get("usage"):
            usage_chunks.append(chunk)
    return StreamResult(chunks, done, after_done, "".join(text_parts), finish, usage_chunks)


# --------------------------------------------------------------------------------------------------------------
# Fake upstreams
# --------------------------------------------------------------------------------------------------------------

class FakeUpstream(BaseHTTPRequestHandler):
    """A fake provider's HTTP/1.1 handler: whole JSON answers, and SSE streams written chunk by chunk with each event
    cut in two mid-JSON (the gateway must reassemble it). Subclasses answer `do_POST`/`do_GET` with these."""
    protocol_version = "HTTP/1.1"

    def send(self, status: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def event(self, name: Optional[str], data: dict) -> None:
        frame = (f"event: {name}\n" if name else "") + "data: " + json.dumps(data) + "\n\n"
        cut = len(frame) // 2
        self.chunk(frame[:cut].encode())
        self.chunk(frame[cut:].encode())

    def chunk(self, data: bytes) -> None:
        """One chunk of a chunked body (b"" ends it)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *a: object) -> None:
        pass


# --------------------------------------------------------------------------------------------------------------
# Processes and ports
# --------------------------------------------------------------------------------------------------------------

def stop_processes(procs: list, timeout: float = 15.0) -> None:
    """SIGTERM to every process still running, then wait for each (SIGKILL after `timeout` seconds)."""
    import signal
    import subprocess
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WaitTimeout(AssertionError):
    """`wait_until` ran out of time; the message says what it waited for and what it last saw."""


def wait_until(predicate: Callable[[], object], timeout: float, what: str, *, interval: float = 0.05,
               alive: Optional[Callable[[], bool]] = None) -> object:
    """Polls `predicate` until it returns something truthy, and returns that; never a fixed sleep standing in for
    an event. Raises WaitTimeout naming `what` (and the last value or error seen) when `timeout` seconds pass,
    or at once when `alive()` turns False (the process that should make it happen exited). An exception from
    `predicate` counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last = "never polled"
    while True:
        if alive is not None and not alive():
            raise WaitTimeout(f"gave up waiting for {what}: the process exited (last: {last})")
        try:
            value = predicate()
            if value:
                return value
            last = repr(value)
        except Exception as e:  # noqa: BLE001 - not yet; kept for the message
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what} (last: {last[:300]})")
        time.sleep(interval)


def wait_http_ok(url: str, *, timeout: float, alive: Optional[Callable[[], bool]] = None,
                 headers: Optional[dict[str, str]] = None) -> None:
    """Polls `url` until it answers 200; raises if `timeout` passes or `alive()` turns False."""
    def ok() -> bool:
        r = request("GET", url, headers=headers, timeout=2)
        check(r.status == 200, f"HTTP {r.status}")
        return True
    wait_until(ok, timeout, f"{url} to answer 200", interval=0.1, alive=alive)


def eprint(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)
