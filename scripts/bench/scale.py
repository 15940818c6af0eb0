#!/usr/bin/env python3
"""Many open connections against an HTTP/1.1 server: the scale part of scripts/bench.sh (scripts/bench/scale.sh).

Python 3 standard library only (asyncio streams, raw HTTP/1.1). Prints one JSON object on stdout; progress on stderr.

  scale.py streams --url http://127.0.0.1:PORT/v1/chat/completions -n 10000 [--rate 2000] [--key sk-bench] ...
      Opens N streaming chat requests (POST, "stream": true), connections started at a bounded rate, each held open
      while the upstream sends its events. Per stream: time to the first byte of the first SSE `data:` event (from
      the moment the request was written on the established connection), and whether it ended with
      `data: [DONE]`. Reports started / ok / failed (reasons counted), TTFB p50 / p99 / max, connect times, the most
      streams open at once, the duration and how late this client's own event loop ran (its TTFB readings are no
      better than that). With --probe K, once all N are open, K more streams are opened at --probe-rate and timed
      apart: the TTFB of a server holding N streams rather than of one being flooded with new connections.
      Streams are driven by asyncio.Protocol callbacks (no task wake-up per read) so one CPU keeps up.

  scale.py idle --url http://127.0.0.1:PORT/healthz -n 5000 [--rate 2000] [--hold 2] ...
      Opens M keep-alive connections, sends one small GET on each, reads the answer and leaves the connection open
      and idle. Reports answered / not answered within --answer-timeout / failed. With --release-check, then closes
      the answered connections and reports how many of the unanswered ones get their answer afterwards (what a
      client past the server's connection limit gets).

With --watch-pid PID (both modes) the server's memory is read from /proc/PID/status: before the first connection,
once everything is open (all streams delivering / all connections idle: VmRSS, VmHWM, open descriptors, and with
--upstream-port the established TCP connections to that port, i.e. the gateway's upstream connections), the
highest VmRSS seen while running (sampled every 0.25 s), and after all connections are closed.

The process raises its own RLIMIT_NOFILE to the hard limit (and the hard limit, when allowed, to what N needs).
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

DONE = b"data: [DONE]"
DATA = b"data:"


def log(msg):
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft, hard = needed, needed
        except (ValueError, OSError):
            pass
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


# ---------------------------------------------------------------------------------------------------------------
# /proc readers (the server under test)
# ---------------------------------------------------------------------------------------------------------------
def proc_mem(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except OSError:
        return None
    return out


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def established_to_port(port):
    """Established TCP connections (IPv4 and IPv6) whose remote port is `port`: seen from the connecting side."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


class Watch:
    """Samples the server's VmRSS while the run goes; takes snapshots on request."""

    def __init__(self, pid, upstream_port, open_count=None):
        self.pid = pid
        self.upstream_port = upstream_port
        self.open_count = open_count
        self.max_rss_kb = 0
        self.at_peak = None   # {"open": n, "vm_rss_kb": kB}: the sample taken with the most streams open
        self.samples = 0
        self.task = None

    def snapshot(self, label, extra=None):
        if not self.pid:
            return None
        m = proc_mem(self.pid) or {}
        snap = {"vm_rss_kb": m.get("VmRSS"), "vm_hwm_kb": m.get("VmHWM"), "fds": proc_fds(self.pid)}
        if self.upstream_port:
            snap["upstream_conns"] = established_to_port(self.upstream_port)
        if extra:
            snap.update(extra)
        log(f"{label}: " + ", ".join(f"{k} {v}" for k, v in snap.items()))
        return snap

    async def run(self):
        while True:
            m = proc_mem(self.pid)
            if m and m.get("VmRSS", 0) > self.max_rss_kb:
                self.max_rss_kb = m["VmRSS"]
            if m and self.open_count is not None:
                n = self.open_count()
                if self.at_peak is None or n >= self.at_peak["open"]:
                    self.at_peak = {"open": n, "vm_rss_kb": m.get("VmRSS")}
            self.samples += 1
            await asyncio.sleep(0.25)

    def start(self):
        if self.pid:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self):
        if self.task:
            self.task.cancel()


class LagProbe:
    """How late this client's event loop runs a 10 ms timer: if it is late, so are its TTFB readings."""

    def __init__(self):
        self.lags = []
        self.task = None

    async def run(self):
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            self.lags.append((time.monotonic() - t - 0.01) * 1000)

    def start(self):
        self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self):
        if self.task:
            self.task.cancel()

    def summary(self):
        v = sorted(self.lags)
        return {"p50": percentile(v, 50), "p99": percentile(v, 99), "max": v[-1] if v else None}


# ---------------------------------------------------------------------------------------------------------------
# HTTP/1.1 response reading
# ---------------------------------------------------------------------------------------------------------------
class Failure(Exception):
    pass


class Body:
    """Incremental decoder for a response body: chunked, Content-Length or until close."""

    def __init__(self, headers):
        te = headers.get("transfer-encoding", "").lower()
        self.chunked = "chunked" in te
        cl = headers.get("content-length")
        self.remaining = int(cl) if (cl is not None and not self.chunked) else None
        self.buf = bytearray()
        self.need = None  # chunked: bytes left in the current chunk (None: reading a size line)
        self.crlf = 0     # chunked: CRLF bytes left after a chunk's data
        self.finished = False

    def feed(self, data):
        """Returns the payload bytes `data` completes; sets `finished` at the end of the body."""
        if not self.chunked:
            if self.remaining is not None:
                data = data[: self.remaining]
                self.remaining -= len(data)
                self.finished = self.remaining == 0
            return bytes(data)
        self.buf += data
        out = bytearray()
        while True:
            if self.crlf:
                if len(self.buf) < self.crlf:
                    break
                del self.buf[: self.crlf]
                self.crlf = 0
            if self.need is None:
                i = self.buf.find(b"\r\n")
                if i < 0:
                    if len(self.buf) > 4096:
                        raise Failure("bad_chunk_size")
                    break
                try:
                    size = int(bytes(self.buf[:i]).split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise Failure("bad_chunk_size") from None
                del self.buf[: i + 2]
                if size == 0:
                    self.finished = True
                    break
                self.need = size
            take = min(self.need, len(self.buf))
            if take == 0:
                break
            out += self.buf[:take]
            del self.buf[:take]
            self.need -= take
            if self.need == 0:
                self.need = None
                self.crlf = 2
        return bytes(out)


async def read_head(reader, deadline_s):
    """Reads the status line and headers; returns (status, headers, leftover body bytes)."""
    buf = bytearray()
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            break
        data = await asyncio.wait_for(reader.read(65536), deadline_s) if deadline_s else await reader.read(65536)
        if not data:
            raise Failure("eof_before_head" if not buf else "eof_in_head")
        buf += data
        if len(buf) > 65536:
            raise Failure("head_too_large")
    head = bytes(buf[:i]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise Failure("bad_status_line")
    status = int(parts[1])
    headers = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, bytes(buf[i + 4:])


def reason_of(exc):
    if isinstance(exc, Failure):
        return str(exc)
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "broken_pipe"
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno
        return "oserror_" + errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


async def launch(n, rate, start_one):
    """Calls start_one(i) for i in 0..n-1 at no more than `rate` per second; returns the tasks."""
    tasks = []
    t0 = time.monotonic()
    i = 0
    while i < n:
        due = min(n, int((time.monotonic() - t0) * rate) + 1)
        while i < due:
            tasks.append(asyncio.get_running_loop().create_task(start_one(i)))
            i += 1
        await asyncio.sleep(0.002)
    return tasks, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------------------------
# streams mode
# ---------------------------------------------------------------------------------------------------------------
class StreamProtocol(asyncio.Protocol):
    """One streaming request on its own connection, driven by callbacks (no task wake-up per read: the client must
    keep up with thousands of events a second on one CPU)."""

    def __init__(self, run, probe=False):
        self.run = run
        self.probe = probe
        self.transport = None
        self.head = bytearray()
        self.body = None
        self.tail = b""
        self.events = 0
        self.opened = False
        self.t_sent = 0.0
        self.result = None  # None while running; "ok" or a failure reason
        self.done = asyncio.get_running_loop().create_future()
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.run.request)
        self.t_sent = time.monotonic()

    def finish(self, result):
        if self.result is not None:
            return
        self.result = result
        if self.timer:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(result)

    def data_received(self, data):
        if self.result is not None:
            return
        try:
            if self.body is None:
                self.head += data
                i = self.head.find(b"\r\n\r\n")
                if i < 0:
                    if len(self.head) > 65536:
                        self.finish("head_too_large")
                    return
                lines = bytes(self.head[:i]).decode("latin-1").split("\r\n")
                parts = lines[0].split(" ", 2)
                if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                    self.finish("bad_status_line")
                    return
                if parts[1] != "200":
                    self.finish(f"http_{parts[1]}")
                    return
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                self.body = Body(headers)
                data = bytes(self.head[i + 4:])
                self.head = None
                if not data:
                    return
            payload = self.body.feed(data)
            if payload:
                seg = self.tail + payload
                j = seg.find(DATA, max(0, len(self.tail) - len(DATA) + 1))
                while j >= 0:
                    self.events += 1
                    if not self.opened:
                        self.opened = True
                        self.run.first_event(time.monotonic() - self.t_sent, self.probe)
                    j = seg.find(DATA, j + 1)
                if DONE in seg:
                    self.finish("ok")
                    return
                self.tail = seg[-(len(DONE) - 1):]
            if self.body.finished:
                self.finish("ended_without_done")
        except Failure as e:
            self.finish(str(e))

    def connection_lost(self, exc):
        if self.result is None:
            if exc is None:
                self.finish("eof_before_head" if self.body is None else "eof_before_done")
            else:
                self.finish(reason_of(exc))

    def timed_out(self):
        self.finish("stream_timeout" if self.opened else ("timeout_before_head" if self.body is None
                                                          else "timeout_before_first_event"))


class StreamsRun:
    def __init__(self, args, host, port, path):
        self.args = args
        self.host, self.port = host, port
        req = {"model": args.model, "stream": True,
               "messages": [{"role": "user", "content": "Write a short story, one word at a time."}]}
        if args.max_tokens:
            req["max_tokens"] = args.max_tokens
        body = json.dumps(req, separators=(",", ":")).encode()
        hdrs = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
                "Accept: text/event-stream", f"Content-Length: {len(body)}"]
        if args.key:
            hdrs.append(f"Authorization: Bearer {args.key}")
        self.request = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body
        self.ttfb_ms = []
        self.connect_ms = []
        self.events = []
        self.reasons = Counter()
        self.ok = 0
        self.open_now = 0
        self.opened_total = 0
        self.peak_open = 0
        self.all_open = asyncio.Event()
        self.probe_ttfb_ms = []
        self.probe_ok = 0
        self.probe_reasons = Counter()

    def first_event(self, seconds, probe=False):
        self.open_now += 1
        if probe:
            self.probe_ttfb_ms.append(seconds * 1000)
            return
        self.ttfb_ms.append(seconds * 1000)
        self.opened_total += 1
        if self.open_now > self.peak_open:
            self.peak_open = self.open_now
        self._check_all_open()

    def _check_all_open(self):
        """Every stream has delivered its first event or failed: the moment to read the server's memory."""
        if self.opened_total + sum(self.reasons.values()) >= self.args.n:
            self.all_open.set()

    async def one(self, i, probe=False):
        a = self.args
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        reasons = self.probe_reasons if probe else self.reasons
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: StreamProtocol(self, probe), self.host, self.port), a.connect_timeout)
        except asyncio.TimeoutError:
            reasons["connect_timeout"] += 1
            self._check_all_open()
            return
        except Exception as e:  # noqa: BLE001 -- every failure is counted by reason
            reasons["connect_" + reason_of(e)] += 1
            self._check_all_open()
            return
        if not probe:
            self.connect_ms.append((time.monotonic() - t0) * 1000)
        proto.timer = loop.call_later(a.stream_timeout, proto.timed_out)
        result = await proto.done
        if proto.opened:
            self.open_now -= 1
        self.events.append(proto.events)
        if result == "ok":
            if probe:
                self.probe_ok += 1
            else:
                self.ok += 1
        else:
            reasons[result] += 1
            self._check_all_open()

    async def run(self):
        a = self.args
        watch = Watch(a.watch_pid, a.upstream_port, lambda: self.open_now)
        before = watch.snapshot("before")
        watch.start()
        lag = LagProbe()
        lag.start()
        t0 = time.monotonic()
        log(f"streams: {a.n} to {a.url} at <= {a.rate:g} connections/s")
        tasks, launch_s = await launch(a.n, a.rate, self.one)
        log(f"all {a.n} started in {launch_s:.2f} s; open now {self.open_now}, failed so far {sum(self.reasons.values())}")
        try:
            await asyncio.wait_for(self.all_open.wait(), a.settle_timeout)
        except asyncio.TimeoutError:
            log(f"not every stream delivered its first event within {a.settle_timeout:g} s of the last start")
        at_peak = watch.snapshot("all open", {"open_streams": self.open_now,
                                              "t_s": round(time.monotonic() - t0, 3)})
        probe_tasks = []
        if a.probe:
            # New streams while the others are open: their TTFB is what a client sees on a busy (not a storming) server
            probe_tasks, probe_s = await launch(a.probe, a.probe_rate, lambda i: self.one(i, probe=True))
            log(f"{a.probe} probe streams started in {probe_s:.2f} s, {self.open_now} open")
        await asyncio.gather(*tasks, *probe_tasks)
        duration = time.monotonic() - t0
        watch.stop()
        lag.stop()
        await asyncio.sleep(a.after_wait)
        after = watch.snapshot("after")
        ttfb = sorted(self.ttfb_ms)
        conn = sorted(self.connect_ms)
        ev = sorted(self.events)
        failed = sum(self.reasons.values())
        res = {
            "mode": "streams", "url": a.url, "started": a.n, "ok": self.ok, "failed": failed,
            "failure_reasons": dict(self.reasons.most_common()),
            "first_event_received": len(ttfb),
            "ttfb_ms": {"p50": percentile(ttfb, 50), "p99": percentile(ttfb, 99), "max": ttfb[-1] if ttfb else None},
            "connect_ms": {"p50": percentile(conn, 50), "p99": percentile(conn, 99), "max": conn[-1] if conn else None},
            "events_per_stream": {"min": ev[0] if ev else None, "p50": percentile(ev, 50), "max": ev[-1] if ev else None},
            "peak_open_streams": self.peak_open, "launch_s": round(launch_s, 3), "duration_s": round(duration, 3),
            "connect_rate": a.rate, "client_loop_lag_ms": lag.summary(),
            "probe": {"started": a.probe, "ok": self.probe_ok, "failure_reasons": dict(self.probe_reasons),
                      "rate": a.probe_rate, "ttfb_ms": {"p50": percentile(sorted(self.probe_ttfb_ms), 50),
                                                        "p99": percentile(sorted(self.probe_ttfb_ms), 99),
                                                        "max": max(self.probe_ttfb_ms) if self.probe_ttfb_ms else None}},
            "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        }
        if a.watch_pid:
            res["server"] = {"pid": a.watch_pid, "before": before, "all_open": at_peak, "after": after,
                             "max_vm_rss_kb_sampled": watch.max_rss_kb, "at_most_open_sampled": watch.at_peak}
        return res


# ---------------------------------------------------------------------------------------------------------------
# idle mode
# ---------------------------------------------------------------------------------------------------------------
class IdleRun:
    def __init__(self, args, host, port, path):
        self.args = args
        self.host, self.port = host, port
        hdrs = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
        if args.key:
            hdrs.append(f"Authorization: Bearer {args.key}")
        self.request = ("\r\n".join(hdrs) + "\r\n\r\n").encode()
        self.answered = {}     # i -> writer (connection kept open, idle)
        self.pending = {}      # i -> writer (connected, request sent, no answer yet)
        self.statuses = Counter()
        self.reasons = Counter()
        self.answered_late = 0
        self.connected = 0
        self.first_wave = asyncio.Event()
        self.settled = 0
        self.release = asyncio.Event()
        self.answer_ms = []

    def _settle(self):
        self.settled += 1
        if self.settled >= self.args.n:
            self.first_wave.set()

    async def one(self, i):
        a = self.args
        writer = None
        try:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), a.connect_timeout)
            except asyncio.TimeoutError:
                raise Failure("connect_timeout") from None
            self.connected += 1
            writer.write(self.request)
            t_sent = time.monotonic()
            self.pending[i] = writer
            head = asyncio.ensure_future(read_head(reader, None))
            done, _ = await asyncio.wait({head}, timeout=a.answer_timeout)
            late = False
            if not done:
                self._settle()      # counted as waiting in the first wave
                await head          # keep waiting (the release check may free a place)
                late = True
            status, headers, rest = head.result()
            body = Body(headers)
            body.feed(rest)
            while not body.finished and (body.chunked or body.remaining is not None):
                data = await reader.read(65536)
                if not data:
                    break
                body.feed(data)
            self.pending.pop(i, None)
            self.statuses[status] += 1
            if late:
                self.answered_late += 1
                writer.close()
                return
            self.answer_ms.append((time.monotonic() - t_sent) * 1000)
            self.answered[i] = writer
            self._settle()
            writer = None           # stays open and idle until the run closes it
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001
            self.pending.pop(i, None)
            self.reasons[reason_of(e)] += 1
            if i not in self.answered:
                self._settle()
        finally:
            if writer is not None and i not in self.answered:
                writer.close()

    async def run(self):
        a = self.args
        watch = Watch(a.watch_pid, a.upstream_port)
        before = watch.snapshot("before")
        watch.start()
        t0 = time.monotonic()
        log(f"idle: {a.n} keep-alive connections to {a.url} at <= {a.rate:g} connections/s")
        tasks, launch_s = await launch(a.n, a.rate, self.one)
        try:
            await asyncio.wait_for(self.first_wave.wait(), a.answer_timeout + a.connect_timeout + 5)
        except asyncio.TimeoutError:
            pass
        answered = len(self.answered)
        waiting = len(self.pending)
        log(f"answered and idle: {answered}; connected, no answer within {a.answer_timeout:g} s: {waiting}; "
            f"failed: {dict(self.reasons)}")
        await asyncio.sleep(0.5)
        idle = watch.snapshot("all idle", {"idle_conns": len(self.answered)})
        await asyncio.sleep(a.hold)
        still_open = sum(1 for w in self.answered.values() if not w.is_closing() and not w.transport.is_closing())
        res = {"mode": "idle", "url": a.url, "started": a.n, "answered": answered, "statuses": dict(self.statuses),
               "waiting_no_answer": waiting, "failed": sum(self.reasons.values()),
               "failure_reasons": dict(self.reasons.most_common()),
               "answer_ms": {"p50": percentile(sorted(self.answer_ms), 50), "p99": percentile(sorted(self.answer_ms), 99)},
               "launch_s": round(launch_s, 3), "hold_s": a.hold, "connect_rate": a.rate,
               "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
        # peers that closed an idle connection show up as EOF on the next read; probe with a zero-timeout check
        closed_by_server = 0
        for w in self.answered.values():
            tr = w.transport
            if tr.is_closing():
                closed_by_server += 1
        res["idle_closed_by_server_during_hold"] = closed_by_server
        res["still_open_after_hold"] = still_open
        if a.release_check and waiting:
            for w in list(self.answered.values()):
                w.close()
            self.answered.clear()
            t_rel = time.monotonic()
            deadline = t_rel + a.answer_timeout
            while self.pending and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            res["release_check"] = {"answered_after_release": self.answered_late, "still_waiting": len(self.pending),
                                    "within_s": round(time.monotonic() - t_rel, 3)}
            log(f"release check: after closing the answered connections {self.answered_late} waiting ones were "
                f"answered, {len(self.pending)} still waiting")
        for w in list(self.answered.values()) + list(self.pending.values()):
            w.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        watch.stop()
        await asyncio.sleep(a.after_wait)
        after = watch.snapshot("after")
        res["duration_s"] = round(time.monotonic() - t0, 3)
        if a.watch_pid:
            res["server"] = {"pid": a.watch_pid, "before": before, "all_idle": idle, "after": after,
                             "max_vm_rss_kb_sampled": watch.max_rss_kb}
        return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("streams", "idle"))
    p.add_argument("--url", required=True, help="http://HOST:PORT/PATH (streams: the chat completions URL)")
    p.add_argument("-n", type=int, required=True, help="streams / connections to open")
    p.add_argument("--rate", type=float, default=2000, help="new connections per second at most (default 2000)")
    p.add_argument("--key", default="", help="bearer key (none: no Authorization header)")
    p.add_argument("--model", default="scale", help="streams: the request's model")
    p.add_argument("--max-tokens", type=int, default=0, help="streams: max_tokens in the request (0: none sent)")
    p.add_argument("--probe", type=int, default=0,
                   help="streams: once all are open, start this many more (at --probe-rate) and time them apart")
    p.add_argument("--probe-rate", type=float, default=50, help="streams: probe streams per second (default 50)")
    p.add_argument("--connect-timeout", type=float, default=10)
    p.add_argument("--head-timeout", type=float, default=30, help="streams: seconds to the response head")
    p.add_argument("--stream-timeout", type=float, default=120, help="streams: seconds a stream may take in all")
    p.add_argument("--settle-timeout", type=float, default=10,
                   help="streams: after the last start, seconds to wait for every stream's first event")
    p.add_argument("--answer-timeout", type=float, default=5, help="idle: seconds to wait for an answer")
    p.add_argument("--hold", type=float, default=2, help="idle: seconds the idle connections stay open after the snapshot")
    p.add_argument("--release-check", action="store_true",
                   help="idle: close the answered connections and see whether the waiting ones get answered")
    p.add_argument("--watch-pid", type=int, default=0, help="the server's PID, for memory and descriptors")
    p.add_argument("--upstream-port", type=int, default=0,
                   help="count established TCP connections to this port when everything is open")
    p.add_argument("--after-wait", type=float, default=1.0, help="seconds after closing before the last snapshot")
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args()
    u = urlsplit(a.url)
    if u.scheme != "http" or not u.hostname:
        sys.exit("scale.py: --url must be http://HOST:PORT/PATH")
    host, port, path = u.hostname, u.port or 80, (u.path or "/") + (f"?{u.query}" if u.query else "")
    limit = raise_nofile(a.n + (a.probe if a.mode == "streams" else 0) + 256)
    if limit < a.n + 64:
        sys.exit(f"scale.py: RLIMIT_NOFILE is {limit}, too low for {a.n} connections (raise `ulimit -n`)")
    run = StreamsRun(a, host, port, path) if a.mode == "streams" else IdleRun(a, host, port, path)
    res = asyncio.run(run.run())
    text = json.dumps(res, indent=2)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
