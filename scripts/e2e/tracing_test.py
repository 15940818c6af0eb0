#!/usr/bin/env python3
"""OpenTelemetry tracing end to end: the built gateway exports OTLP/HTTP protobuf to a local collector.

    python scripts/e2e/tracing_test.py --bin .build/debug/switchboard --work /tmp/tracing

Starts a stand-in OTLP/HTTP collector (decodes ExportTraceServiceRequest with the opentelemetry-proto package) and
a fake OpenAI upstream whose first answer is a 500, then the gateway with `tracing:` pointing at the collector.
Checks:
  - a request carrying a W3C traceparent gives one server span in the client's trace (child of the client's span)
    and one client span per upstream attempt (primary, then retry) under it, with the routing decision as attributes,
  - each upstream call carried its own attempt span as traceparent; the collector got the configured header,
  - spans are flushed on SIGTERM (the gateway exits 0),
  - with the collector down, requests are still answered and the collector header's value never reaches the log.
Prints PASS/FAIL per check and closes with `tracing: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from e2e_lib import Runner, SetupFailed, bearer, free_port, request, stop_processes, wait_http_ok

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)

runner = Runner("tracing")
record = runner.record

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
SECRET = "collector-token-e2e-5f1d"


class Collector(BaseHTTPRequestHandler):
    exports: list[tuple[dict, bytes]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with Collector.lock:
            Collector.exports.append(({k.lower(): v for k, v in self.headers.items()}, body))
        reply = b""
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *a: object) -> None:
        pass


class Upstream(BaseHTTPRequestHandler):
    calls: list[dict] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with Upstream.lock:
            Upstream.calls.append({k.lower(): v for k, v in self.headers.items()})
            first = len(Upstream.calls) == 1
        if first:
            status, body = 500, {"error": {"message": "down", "type": "server_error"}}
        else:
            status, body = 200, {"id": "c1", "object": "chat.completion", "created": 0, "model": "up",
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


def serve(handler: type) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_config(name: str, port: int, collector_port: int, upstream_port: int) -> str:
    path = os.path.join(args.work, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"""
server: {{ listen: "127.0.0.1:{port}" }}
auth: {{ keys: [ {{ name: traced, key: "sk-traced" }} ] }}
providers:
  - {{ name: first, kind: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", api_key: "sk-up-1" }}
  - {{ name: second, kind: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", api_key: "sk-up-2" }}
models:
  - name: chat
    balancing: round-robin
    deployments: [ {{ provider: first, model: m-1 }}, {{ provider: second, model: m-2 }} ]
routing: {{ retries: 2, backoff: {{ base_ms: 1, max_ms: 2 }} }}
tracing:
  enabled: true
  endpoint: "http://127.0.0.1:{collector_port}"
  service_name: switchboard-e2e
  export_interval_ms: 100
  headers: {{ x-collector-token: "env:COLLECTOR_TOKEN" }}
""")
    return path


def start(name: str, cfg: str) -> subprocess.Popen:
    env = dict(os.environ, COLLECTOR_TOKEN=SECRET)
    for k in list(env):
        if k.startswith("OTEL_"):
            del env[k]
    return subprocess.Popen([args.bin, "serve", "--config", cfg], env=env, stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(args.work, f"{name}.out.log"), "w"),
                            stderr=open(os.path.join(args.work, f"{name}.err.log"), "w"))


def chat(port: int, headers: dict[str, str] | None = None) -> int:
    h = bearer("sk-traced")
    h.update(headers or {})
    r = request("POST", f"http://127.0.0.1:{port}/v1/chat/completions", headers=h,
                body=json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hello"}]}).encode())
    return r.status


def attrs(span) -> dict:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value if v.HasField("string_value") else v.int_value if v.HasField("int_value") else \
            v.double_value if v.HasField("double_value") else v.bool_value
    return out


procs: list[subprocess.Popen] = []
collector = serve(Collector)
upstream = serve(Upstream)
try:
    port = free_port()
    gw = start("traced", write_config("traced", port, collector.server_address[1], upstream.server_address[1]))
    procs.append(gw)
    runner.setup("traced gateway ready", lambda: wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30, alive=lambda: gw.poll() is None))
    status = chat(port, {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "tracestate": "e2e=1"})
    record(status == 200, "a request that fails over to the second deployment is answered", f"status {status}")
    gw.send_signal(signal.SIGTERM)
    rc = gw.wait(timeout=30)
    record(rc == 0, "the gateway exits 0 on SIGTERM after flushing its spans", f"exit {rc}")

    spans = []
    for headers, body in Collector.exports:
        record(headers.get("content-type") == "application/x-protobuf", "exports are OTLP/HTTP protobuf", headers.get("content-type", ""))
        record(headers.get("x-collector-token") == SECRET, "the configured collector header is sent")
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            service = {kv.key: kv.value.string_value for kv in rs.resource.attributes}.get("service.name")
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append((service, s))
    record(len(spans) == 3, "three spans: the request and two attempts", f"{len(spans)} spans")
    servers = [s for _, s in spans if s.kind == s.SPAN_KIND_SERVER]
    attempts = sorted((s for _, s in spans if s.kind == s.SPAN_KIND_CLIENT), key=lambda s: attrs(s).get("switchboard.attempt", 0))
    if len(servers) == 1 and len(attempts) == 2:
        server = servers[0]
        sa = attrs(server)
        record(all(svc == "switchboard-e2e" for svc, _ in spans), "service.name is the configured one")
        record(server.trace_id.hex() == CLIENT_TRACE and server.parent_span_id.hex() == CLIENT_SPAN,
               "the request span continues the client's trace", f"{server.trace_id.hex()} / {server.parent_span_id.hex()}")
        record(server.name == "chat chat" and sa.get("http.response.status_code") == 200 and sa.get("switchboard.attempts") == 2
               and sa.get("gen_ai.usage.input_tokens") == 9 and sa.get("gen_ai.usage.output_tokens") == 4,
               "the request span has status, attempts and token usage", json.dumps(sa))
        record(all(a.parent_span_id == server.span_id and a.trace_id == server.trace_id for a in attempts),
               "attempt spans are children of the request span")
        reasons = [attrs(a).get("switchboard.route.reason") for a in attempts]
        providers = [attrs(a).get("switchboard.provider") for a in attempts]
        record(reasons == ["primary", "retry"] and providers == ["first", "second"],
               "attempt spans carry the routing decision", f"{reasons} {providers}")
        record(attempts[0].status.code == attempts[0].status.STATUS_CODE_ERROR and attrs(attempts[1]).get("http.response.status_code") == 200,
               "the failed attempt is an error, the second answered 200")
        sent = [c.get("traceparent") for c in Upstream.calls]
        want = [f"00-{CLIENT_TRACE}-{a.span_id.hex()}-01" for a in attempts]
        record(sent == want, "each upstream call carried its attempt span as traceparent", f"{sent}")
        record(all(c.get("tracestate") == "e2e=1" for c in Upstream.calls), "tracestate is passed on")

    # The collector is down: requests are still served, and the secret header value is never logged.
    down_port = free_port()
    port2 = free_port()
    gw2 = start("collector-down", write_config("collector-down", port2, down_port, upstream.server_address[1]))
    procs.append(gw2)
    runner.setup("gateway with the collector down ready",
                 lambda: wait_http_ok(f"http://127.0.0.1:{port2}/healthz", timeout=30, alive=lambda: gw2.poll() is None))
    codes = [chat(port2) for _ in range(5)]
    record(codes == [200] * 5, "with the collector down, requests are answered", f"{codes}")
    gw2.send_signal(signal.SIGTERM)
    rc2 = gw2.wait(timeout=60)
    record(rc2 == 0, "and the gateway still exits 0", f"exit {rc2}")
    logs = "".join(open(os.path.join(args.work, f"collector-down.{s}.log")).read() for s in ("out", "err"))
    record(SECRET not in logs, "the collector header's value is not in the log")
except SetupFailed:
    pass  # already reported as a failure
except Exception as e:  # noqa: BLE001
    record(False, "tracing test ran to the end", repr(e))
finally:
    stop_processes(procs)
    collector.shutdown()
    upstream.shutdown()
raise SystemExit(runner.finish())
