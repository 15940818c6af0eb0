#!/usr/bin/env python3
"""OpenAI's Responses API (`/v1/responses`) end to end through the official openai SDK, in front of every provider kind.

    .venv/bin/python scripts/e2e/responses_test.py --bin .build/debug/switchboard --work /tmp/responses

Starts the gateway with a config of its own and a recording fake upstream that speaks the Responses API
(`responses_api: true`: passed through), chat completions only (an OpenAI-compatible server: translated) and Azure's
deployment URLs; simulated Anthropic and Gemini providers (`kind: mock`, `reply: echo`) translate through their own
wire formats. Checks:
  - `client.responses.create` and `client.responses.stream` on every kind: text, status, usage, typed events;
  - the native upstream gets the client's bytes with only `model` rewritten;
  - a function-calling round trip (tools out, `function_call` back, `function_call_output` in with
    `previous_response_id`): the chat upstream gets the assistant's tool call and the tool result;
  - `previous_response_id` across two providers (turn 1 on the simulated Anthropic, turn 2 on the chat server): turn 2's
    upstream sees turn 1's input and answer;
  - `retrieve`, `input_items.list`, `delete` (then 404), another key's 404, `store: false` not kept;
  - built-in tools refused with a 400 naming the tool; malformed bodies refused naming the field; unknown
    `previous_response_id`; the request log records `responses` with its usage.
Prints PASS/FAIL per check and closes with `responses: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import openai
from openai import OpenAI

from e2e_lib import FakeUpstream, Runner, SetupFailed, bearer, check, check_eq, free_port, request, stop_processes, wait_http_ok, wait_until

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--only", action="append", default=[], help="run only tests whose name contains this")
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)

runner = Runner("responses")
test = runner.test
MASTER = "sk-master-responses"
KEY, OTHER = "sk-resp-one", "sk-resp-two"
MODELS = ["native", "chat-only", "azure", "claude", "gemini"]


# --------------------------------------------------------------------------------------------------------------
# A recording upstream: the Responses API (/native/responses), chat completions (/chat/..., Azure's URLs)
# --------------------------------------------------------------------------------------------------------------

def last_text(messages: list) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


class Upstream(FakeUpstream):
    seen: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - health checks
        self.send(200, {"object": "list", "data": []})

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        with Upstream.lock:
            Upstream.seen.append((self.path, raw))
        body = json.loads(raw)
        if self.path.endswith("/responses"):
            self.native(body)
        else:
            self.chat(body)

    # The Responses API, as OpenAI answers it.
    def native(self, body: dict) -> None:
        inp = body.get("input")
        said = inp if isinstance(inp, str) else "".join(
            p.get("text", "") for m in inp if m.get("role") == "user" for p in (m.get("content") if isinstance(m.get("content"), list) else
                                                                               [{"text": m.get("content", "")}]))
        text = f"native: {said}"
        item = {"type": "message", "id": "msg_native", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
        usage = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 17}
        response = {"id": "resp_native_1", "object": "response", "created_at": 1, "status": "completed", "model": body["model"],
                    "output": [item], "usage": usage, "error": None, "incomplete_details": None, "instructions": None,
                    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "metadata": {}}
        if not body.get("stream"):
            self.send(200, response)
            return
        self.start_stream()
        n = 0

        def ev(kind: str, **data: object) -> None:
            nonlocal n
            self.event(kind, {"type": kind, "sequence_number": n, **data})
            n += 1
        ev("response.created", response={**response, "status": "in_progress", "output": [], "usage": None})
        ev("response.output_item.added", output_index=0, item={**item, "status": "in_progress", "content": []})
        ev("response.content_part.added", item_id="msg_native", output_index=0, content_index=0,
           part={"type": "output_text", "text": "", "annotations": []})
        for i in range(0, len(text), 4):
            ev("response.output_text.delta", item_id="msg_native", output_index=0, content_index=0, delta=text[i:i + 4], logprobs=[])
        ev("response.output_text.done", item_id="msg_native", output_index=0, content_index=0, text=text, logprobs=[])
        ev("response.content_part.done", item_id="msg_native", output_index=0, content_index=0, part=item["content"][0])
        ev("response.output_item.done", output_index=0, item=item)
        ev("response.completed", response=response)
        self.chunk(b"")

    # Chat completions: a tool call when tools are offered and no result came back yet, else an echo.
    def chat(self, body: dict) -> None:
        messages = body.get("messages") or []
        results = [m for m in messages if m.get("role") == "tool"]
        call = bool(body.get("tools")) and not results
        text = f"echo: {last_text(messages)}" + (f" (tool said {results[-1]['content']})" if results else "")
        tool_call = {"id": "call_up_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        usage = {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26}
        head = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": body.get("model")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": [tool_call]} if call else {"role": "assistant", "content": text}
            self.send(200, {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": body.get("model"),
                            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}], "usage": usage})
            return
        self.start_stream()
        if call:
            self.event(None, {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
                {"index": 0, "id": "call_up_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": None}]})
            for piece in ['{"city"', ':"Paris"}']:
                self.event(None, {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]},
                                                       "finish_reason": None}]})
            self.event(None, {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        else:
            self.event(None, {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            for i in range(0, len(text), 3):
                self.event(None, {**head, "choices": [{"index": 0, "delta": {"content": text[i:i + 3]}, "finish_reason": None}]})
            self.event(None, {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self.event(None, {**head, "choices": [], "usage": usage})
        self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")


def seen_since(n: int) -> list[tuple[str, bytes]]:
    with Upstream.lock:
        return Upstream.seen[n:]


def seen_count() -> int:
    with Upstream.lock:
        return len(Upstream.seen)


# --------------------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------------------

up_server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=up_server.serve_forever, daemon=True).start()
UP = up_server.server_address[1]
PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
CONFIG = f"""\
server: {{ listen: "127.0.0.1:{PORT}" }}
storage: memory
auth:
  master_key: "{MASTER}"
  keys:
    - {{ name: one, key: "{KEY}" }}
    - {{ name: two, key: "{OTHER}" }}
providers:
  - {{ name: openai-native, kind: openai, base_url: "http://127.0.0.1:{UP}/native", api_key: "sk-up", responses_api: true }}
  - {{ name: vllm, kind: openai, base_url: "http://127.0.0.1:{UP}/chat", api_key: "sk-up" }}
  - {{ name: azure-up, kind: azure, base_url: "http://127.0.0.1:{UP}/azure", api_key: "az-up", api_version: "2024-10-21" }}
  - {{ name: sim-claude, kind: mock, api: anthropic, reply: echo }}
  - {{ name: sim-gemini, kind: mock, api: gemini, reply: echo }}
models:
  - {{ name: native, deployments: [ {{ provider: openai-native, model: gpt-up }} ] }}
  - {{ name: chat-only, deployments: [ {{ provider: vllm, model: llama-up }} ] }}
  - {{ name: azure, deployments: [ {{ provider: azure-up, model: my-deployment }} ] }}
  - {{ name: claude, deployments: [ {{ provider: sim-claude, model: claude-sim }} ] }}
  - {{ name: gemini, deployments: [ {{ provider: sim-gemini, model: gemini-sim }} ] }}
"""
CFG = os.path.join(args.work, "responses.yaml")
with open(CFG, "w") as f:
    f.write(CONFIG)
procs: list[subprocess.Popen] = []


def client(key: str = KEY) -> OpenAI:
    return OpenAI(base_url=f"{BASE}/v1", api_key=key, max_retries=0, timeout=30.0)


def expect_error(kind: type, fn, *words: str) -> Exception:
    try:
        fn()
    except kind as e:
        text = str(e)
        missing = [w for w in words if w not in text]
        check(not missing, f"the error does not name {missing}: {text[:400]}")
        return e
    raise AssertionError(f"expected {kind.__name__}")


@test
def test_create_on_every_provider_kind():
    for model in MODELS:
        r = client().responses.create(model=model, input="Say hello to Ada.", instructions="Be brief.")
        check_eq(r.status, "completed", f"{model}: status")
        check_eq(r.object, "response", f"{model}: object")
        check("Ada" in r.output_text, f"{model}: output_text {r.output_text!r}")
        check(r.id.startswith("resp_"), f"{model}: id {r.id}")
        check(r.usage and r.usage.input_tokens > 0 and r.usage.output_tokens > 0, f"{model}: usage {r.usage}")


@test
def test_stream_on_every_provider_kind():
    for model in MODELS:
        kinds: list[str] = []
        deltas: list[str] = []
        with client().responses.stream(model=model, input="Stream to Grace.") as s:
            for event in s:
                kinds.append(event.type)
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
            final = s.get_final_response()
        check_eq(kinds[0], "response.created", f"{model}: first event")
        check_eq(kinds[-1], "response.completed", f"{model}: last event")
        check("response.output_item.added" in kinds, f"{model}: no output_item.added in {kinds}")
        check(len(deltas) >= 2, f"{model}: {len(deltas)} text deltas")
        check_eq("".join(deltas), final.output_text, f"{model}: deltas joined vs the final response")
        check("Grace" in final.output_text, f"{model}: final text {final.output_text!r}")
        check(final.usage and final.usage.output_tokens > 0, f"{model}: final usage {final.usage}")


@test
def test_native_upstream_gets_the_clients_bytes_with_only_model_rewritten():
    body = b'{"model": "native",  "input": [{"role": "user", "content": "Byte for byte."}], "temperature": 0.25, "metadata": {"k": "v"}}'
    n = seen_count()
    r = request("POST", f"{BASE}/v1/responses", headers={**bearer(KEY), "content-type": "application/json"}, body=body, timeout=30)
    check_eq(r.status, 200, "status")
    got = seen_since(n)
    check_eq(len(got), 1, "upstream requests")
    check_eq(got[0][0], "/native/responses", "the upstream path")
    check_eq(got[0][1], body.replace(b'"native"', b'"gpt-up"', 1), "the bytes the native upstream got")
    check_eq(r.json()["id"], "resp_native_1", "the native upstream's own response id")


@test
def test_function_calling_round_trip_with_previous_response_id():
    tools = [{"type": "function", "name": "get_weather", "description": "Weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    c = client()
    first = c.responses.create(model="chat-only", input="What is the weather in Paris?", tools=tools)
    calls = [o for o in first.output if o.type == "function_call"]
    check_eq(len(calls), 1, "function calls in the first answer")
    check_eq(calls[0].name, "get_weather", "the function called")
    check_eq(json.loads(calls[0].arguments), {"city": "Paris"}, "its arguments")
    n = seen_count()
    second = c.responses.create(model="chat-only", previous_response_id=first.id, tools=tools,
                                input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C and sunny"}])
    check("18C and sunny" in second.output_text, f"the final answer {second.output_text!r}")
    check_eq(second.previous_response_id, first.id, "previous_response_id echoed")
    sent = json.loads(seen_since(n)[0][1])["messages"]
    roles = [m["role"] for m in sent]
    check_eq(roles, ["user", "assistant", "tool"], "the conversation the chat upstream got")
    check_eq(sent[1]["tool_calls"][0]["id"], calls[0].call_id, "the assistant's tool call id")
    check_eq(sent[2]["tool_call_id"], calls[0].call_id, "the tool result's call id")
    # The same round trip streamed: the arguments arrive as deltas.
    with c.responses.stream(model="chat-only", input="Weather in Paris, streamed?", tools=tools) as s:
        arg_deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
        final = s.get_final_response()
    check_eq(json.loads("".join(arg_deltas)), {"city": "Paris"}, "streamed argument deltas joined")
    check_eq([o.type for o in final.output], ["function_call"], "the streamed answer's output items")


@test
def test_previous_response_id_across_two_providers():
    c = client()
    first = c.responses.create(model="claude", input="My name is Ada Lovelace.")
    check("Ada Lovelace" in first.output_text, f"turn 1 on the simulated Anthropic: {first.output_text!r}")
    n = seen_count()
    second = c.responses.create(model="chat-only", input="What is my name?", previous_response_id=first.id)
    check("What is my name?" in second.output_text, f"turn 2 on the chat server: {second.output_text!r}")
    sent = json.loads(seen_since(n)[0][1])["messages"]
    check_eq([m["role"] for m in sent], ["user", "assistant", "user"], "roles turn 2's upstream got")
    check("Ada Lovelace" in json.dumps(sent[0]), f"turn 1's input missing upstream: {sent[0]}")
    check("Ada Lovelace" in json.dumps(sent[1]), f"turn 1's answer missing upstream: {sent[1]}")
    third = c.responses.create(model="native", input="And again?", previous_response_id=second.id)
    check_eq(third.status, "completed", "turn 3 on the native upstream")
    got = json.loads(seen_since(n)[-1][1])
    check("previous_response_id" not in got, "the native upstream got a previous_response_id it never saw")
    check_eq(len(got["input"]), 5, "turn 3's input upstream (two earlier turns of two items, and its own)")


@test
def test_retrieve_input_items_delete_and_ownership():
    c = client()
    r = c.responses.create(model="gemini", input=[{"role": "user", "content": "Keep this."}])
    got = c.responses.retrieve(r.id)
    check_eq(got.id, r.id, "retrieved id")
    check_eq(got.output_text, r.output_text, "retrieved text")
    items = c.responses.input_items.list(r.id)
    check_eq(len(items.data), 1, "input items")
    check_eq(items.data[0].role, "user", "the input item's role")
    expect_error(openai.NotFoundError, lambda: client(OTHER).responses.retrieve(r.id), r.id)
    expect_error(openai.NotFoundError, lambda: client(OTHER).responses.delete(r.id))
    c.responses.delete(r.id)
    expect_error(openai.NotFoundError, lambda: c.responses.retrieve(r.id))
    unstored = c.responses.create(model="claude", input="Forget this.", store=False)
    expect_error(openai.NotFoundError, lambda: c.responses.retrieve(unstored.id))


@test
def test_refusals_name_the_tool_or_field():
    c = client()
    e = expect_error(openai.BadRequestError, lambda: c.responses.create(model="chat-only", input="Search", tools=[{"type": "web_search"}]),
                     "web_search")
    check_eq(e.status_code, 400, "built-in tool refusal status")
    e = expect_error(openai.BadRequestError, lambda: c.responses.create(model="chat-only", input="x", previous_response_id="resp_missing"),
                     "resp_missing")
    check_eq(e.code, "previous_response_not_found", "unknown previous_response_id")
    for body, field in [({"model": "chat-only"}, "input"), ({"model": "chat-only", "input": 5}, "input"),
                        ({"model": "chat-only", "input": "x", "max_output_tokens": "many"}, "max_output_tokens"),
                        ({"input": "x"}, "model"), ({"model": "chat-only", "input": "x", "background": True}, "background")]:
        r = request("POST", f"{BASE}/v1/responses", headers={**bearer(KEY), "content-type": "application/json"},
                    body=json.dumps(body).encode(), timeout=10)
        check_eq(r.status, 400, f"status for {body}")
        check_eq(r.error_object().get("param"), field, f"param for {body}")
    r = request("POST", f"{BASE}/v1/responses", headers={**bearer(KEY), "content-type": "application/json"}, body=b"{not json", timeout=10)
    check_eq(r.status, 400, "malformed JSON")


@test
def test_request_log_records_responses_with_usage():
    raw = client().responses.with_raw_response.create(model="native", input="Log me.")
    rid = raw.headers["x-request-id"]

    def record() -> dict | None:
        r = request("GET", f"{BASE}/admin/logs/{rid}", headers=bearer(MASTER), timeout=5)
        return r.json() if r.status == 200 else None
    rec = wait_until(record, 10, f"request log record {rid}")
    check_eq(rec["endpoint"], "responses", "endpoint in the request log")
    u = rec["usage"]
    check_eq((u["prompt_tokens"], u["completion_tokens"], u.get("cached_tokens")), (12, 5, 4), "usage in the request log")


@test
def test_gateway_exits_0_on_sigterm():
    stop_processes(procs)
    check_eq(procs[0].returncode, 0, "the gateway's exit status on SIGTERM")


# --------------------------------------------------------------------------------------------------------------

try:
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    check_proc = subprocess.run([args.bin, "check", "--config", CFG], capture_output=True, text=True, timeout=30, env=env)
    runner.setup("switchboard check accepts the config", check_proc.returncode == 0, check_proc.stdout + check_proc.stderr)
    with open(os.path.join(args.work, "gateway.out.log"), "wb") as out, open(os.path.join(args.work, "gateway.err.log"), "wb") as err:
        gw = subprocess.Popen([args.bin, "serve", "--config", CFG], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    procs.append(gw)
    runner.setup("gateway ready", lambda: wait_http_ok(f"{BASE}/readyz", timeout=30, alive=lambda: gw.poll() is None) or True)
    rc = runner.run(args.only)
except SetupFailed:
    rc = runner.finish()
finally:
    stop_processes(procs)
    up_server.shutdown()
sys.exit(rc)
