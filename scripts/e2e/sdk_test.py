#!/usr/bin/env python3
"""End-to-end tests of a running Switchboard gateway through the official `openai` Python SDK (plus a few raw
HTTP checks where the SDK would hide what the gateway actually sent).

    python scripts/e2e/sdk_test.py --base-url http://127.0.0.1:PORT/v1 --key sk-e2e [--master-key sk-master]

Expects the gateway to run the e2e configuration that scripts/test.sh writes: models `demo` (in-process mock,
priced input 1.0 / output 2.0 USD per 1M tokens), `slow` (mock, ~20 tokens/s, 40 tokens per answer) and `remote`
(kind openai, pointing at a `switchboard mock-provider` process), server.max_body_bytes 8388608.

Prints one PASS/FAIL line per test and closes with `sdk: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import array
import base64
import json
import math
import os
import socket
import sys
import threading
import time
import uuid

import openai
from openai import OpenAI

from e2e_lib import (Runner, Skip, bearer, check, check_eq, open_stream, read_chat_stream, request, wait_until)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--base-url", default=os.environ.get("SWITCHBOARD_BASE_URL", "http://127.0.0.1:8080/v1"),
                help="the gateway's OpenAI base URL, ending in /v1 (env SWITCHBOARD_BASE_URL)")
ap.add_argument("--key", default=os.environ.get("SWITCHBOARD_KEY", "sk-e2e"), help="a client key (env SWITCHBOARD_KEY)")
ap.add_argument("--master-key", default=os.environ.get("SWITCHBOARD_MASTER_KEY", "sk-master"),
                help="the configured auth.master_key (env SWITCHBOARD_MASTER_KEY)")
ap.add_argument("--max-body-bytes", type=int, default=8388608, help="the configured server.max_body_bytes")
ap.add_argument("--skip-remote", action="store_true", help="skip the tests of the `remote` (kind openai) model")
ap.add_argument("--only", action="append", help="run only tests whose name contains this (repeatable)")
args = ap.parse_args()

BASE = args.base_url.rstrip("/")
if not BASE.endswith("/v1"):
    sys.exit(f"--base-url must end in /v1, got {BASE}")
ROOT = BASE[: -len("/v1")]
KEY = args.key

# max_retries=0: a retry inside the SDK would hide a failed first attempt.
client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=30.0)

MESSAGES = [{"role": "user", "content": "Say something about switchboards."}]
PRICE_IN, PRICE_OUT = 1.0, 2.0  # USD per 1M tokens, as configured for `demo`

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
OTHER_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}},
}

runner = Runner("sdk")
test = runner.test


def need_remote() -> None:
    if args.skip_remote:
        raise Skip("--skip-remote given")


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------

def check_usage(usage, what: str) -> None:
    check(usage is not None, f"{what}: no usage")
    check(isinstance(usage.prompt_tokens, int) and usage.prompt_tokens > 0, f"{what}: prompt_tokens {usage.prompt_tokens!r}")
    check(isinstance(usage.completion_tokens, int) and usage.completion_tokens > 0,
          f"{what}: completion_tokens {usage.completion_tokens!r}")
    check_eq(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, f"{what}: total_tokens")


def check_plain_chat(model: str, expected_provider: str) -> None:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    h = raw.headers
    resp = raw.parse()
    check(resp.choices, f"{model}: no choices")
    msg = resp.choices[0].message
    check(isinstance(msg.content, str) and msg.content.strip(), f"{model}: empty content {msg.content!r}")
    check_eq(msg.role, "assistant", f"{model}: message role")
    check_eq(resp.choices[0].finish_reason, "stop", f"{model}: finish_reason")
    check_usage(resp.usage, model)
    check(h.get("x-request-id"), f"{model}: no x-request-id header")
    check_eq(h.get("x-switchboard-model"), model, f"{model}: x-switchboard-model")
    check_eq(h.get("x-switchboard-provider"), expected_provider, f"{model}: x-switchboard-provider")
    attempts = h.get("x-switchboard-attempts")
    check(attempts is not None and attempts.strip().isdigit(), f"{model}: x-switchboard-attempts {attempts!r}")
    check_eq(int(attempts), 1, f"{model}: x-switchboard-attempts (the mock never fails here)")
    cost = h.get("x-switchboard-cost-usd")
    check(cost is not None, f"{model}: no x-switchboard-cost-usd header on a non-streamed chat")
    try:
        float(cost)
    except ValueError:
        raise AssertionError(f"{model}: x-switchboard-cost-usd {cost!r} is not a number") from None
    check(math.isfinite(float(cost)) and float(cost) >= 0, f"{model}: x-switchboard-cost-usd {cost!r}")


def sdk_stream(model: str, **kw):
    """Streams through the SDK; returns (chunks, text)."""
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kw)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


def check_stream_without_usage(model: str) -> None:
    chunks, text = sdk_stream(model)
    check(chunks, f"{model}: no chunks")
    check(text.strip(), f"{model}: streamed text is empty")
    with_usage = [i for i, c in enumerate(chunks) if c.usage is not None]
    check(not with_usage, f"{model}: chunks {with_usage} carry usage although the client did not ask "
                          f"(stream_options.include_usage unset): {chunks[with_usage[0]].usage if with_usage else ''}")
    check(all(c.choices for c in chunks),
          f"{model}: a chunk with empty choices was sent although usage was not asked for (the upstream's usage chunk leaked)")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    check_eq(finishes, ["stop"], f"{model}: finish_reasons over the stream")


def check_stream_with_usage(model: str) -> None:
    chunks, text = sdk_stream(model, stream_options={"include_usage": True})
    check(len(chunks) >= 2, f"{model}: expected content chunks and a usage chunk, got {len(chunks)} chunk(s)")
    check(text.strip(), f"{model}: streamed text is empty")
    last = chunks[-1]
    check(last.usage is not None, f"{model}: the last chunk has no usage although include_usage was true")
    check_eq(last.choices, [], f"{model}: choices of the usage chunk")
    check_usage(last.usage, f"{model} usage chunk")
    earlier = [i for i, c in enumerate(chunks[:-1]) if c.usage is not None]
    check(not earlier, f"{model}: only the last chunk may carry usage; chunks {earlier} do too")
    ids = {c.id for c in chunks}
    check_eq(len(ids), 1, f"{model}: distinct chunk ids in one stream ({ids})")


def check_tools_plain(model: str) -> None:
    resp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER_TOOL, OTHER_TOOL])
    choice = resp.choices[0]
    check_eq(choice.finish_reason, "tool_calls", f"{model}: finish_reason")
    calls = choice.message.tool_calls
    check(calls, f"{model}: no tool_calls in the message: {choice.message}")
    call = calls[0]
    check(call.id, f"{model}: tool call without id")
    check_eq(call.type, "function", f"{model}: tool call type")
    check_eq(call.function.name, "get_weather", f"{model}: tool call name")
    try:
        parsed = json.loads(call.function.arguments)
    except (TypeError, ValueError):
        raise AssertionError(f"{model}: tool call arguments are not JSON: {call.function.arguments!r}") from None
    check(isinstance(parsed, dict), f"{model}: tool call arguments must be a JSON object, got {parsed!r}")
    u = resp.usage
    check(u is not None and u.prompt_tokens > 0 and u.completion_tokens >= 0
          and u.total_tokens == u.prompt_tokens + u.completion_tokens, f"{model} tools: usage {u}")


def check_tools_stream(model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER_TOOL], stream=True)
    calls: dict[int, dict] = {}
    delta_count = 0
    finishes = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
            for tc in choice.delta.tool_calls or []:
                delta_count += 1
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
    check(delta_count > 0, f"{model}: no tool_call deltas arrived in the stream")
    check_eq(finishes, ["tool_calls"], f"{model}: finish_reasons over the stream")
    check(0 in calls, f"{model}: no tool call with index 0: {calls}")
    call = calls[0]
    check(call["id"], f"{model}: streamed tool call has no id")
    check_eq(call["name"], "get_weather", f"{model}: streamed tool call name")
    try:
        parsed = json.loads(call["arguments"])
    except ValueError:
        raise AssertionError(f"{model}: streamed tool call arguments are not JSON: {call['arguments']!r}") from None
    check(isinstance(parsed, dict), f"{model}: streamed arguments must be a JSON object, got {parsed!r}")


def check_embeddings(model: str) -> None:
    # The SDK asks for base64 when no encoding_format is given, and decodes it to floats itself.
    r_default = client.embeddings.create(model=model, input=["a", "b"])
    check_eq(len(r_default.data), 2, f"{model}: number of embeddings (default/base64)")
    check_eq([d.index for d in r_default.data], [0, 1], f"{model}: embedding indexes")
    v0, v1 = r_default.data[0].embedding, r_default.data[1].embedding
    check(isinstance(v0, list) and all(isinstance(x, float) for x in v0), f"{model}: embedding not a list of floats")
    check(len(v0) > 0 and len(v0) == len(v1), f"{model}: vector lengths {len(v0)} and {len(v1)}")
    check(all(math.isfinite(x) for x in v0 + v1), f"{model}: non-finite values in the vectors")
    check(r_default.usage is not None and r_default.usage.prompt_tokens > 0, f"{model}: embeddings usage {r_default.usage}")

    r_float = client.embeddings.create(model=model, input=["a", "b"], encoding_format="float")
    check_eq(len(r_float.data), 2, f"{model}: number of embeddings (float)")
    f0, f1 = r_float.data[0].embedding, r_float.data[1].embedding
    check(isinstance(f0, list) and all(isinstance(x, (int, float)) for x in f0), f"{model}: float embedding not numbers")
    check_eq(len(f0), len(v0), f"{model}: float vector length vs base64 vector length")
    # Deterministic vectors: the base64-decoded (float32) and the float ones must agree.
    for name, a, b in (("a", v0, f0), ("b", v1, f1)):
        worst = max(abs(x - y) for x, y in zip(a, b))
        check(worst <= 1e-5 * max(1.0, max(abs(y) for y in b)),
              f"{model}: base64 and float vectors for {name!r} differ by up to {worst} (bad base64 encoding?)")

    # Same request again: same vectors.
    r_again = client.embeddings.create(model=model, input=["a", "b"], encoding_format="float")
    check_eq([d.embedding for d in r_again.data], [f0, f1], f"{model}: vectors of a repeated request")

    # An explicit base64 request: the SDK leaves the string alone; it must decode to little-endian float32s.
    r_b64 = client.embeddings.create(model=model, input="a", encoding_format="base64")
    s = r_b64.data[0].embedding
    check(isinstance(s, str), f"{model}: encoding_format=base64 returned {type(s).__name__}, not a base64 string")
    raw = base64.b64decode(s, validate=True)
    check_eq(len(raw) % 4, 0, f"{model}: base64 payload length modulo 4")
    decoded = array.array("f", raw)
    if sys.byteorder != "little":
        decoded.byteswap()
    check_eq(len(decoded), len(f0), f"{model}: base64 vector length")
    check(max(abs(x - y) for x, y in zip(decoded, f0)) <= 1e-5 * max(1.0, max(abs(y) for y in f0)),
          f"{model}: explicit base64 vector differs from the float one")

    for fmt in ("float", "base64", None):
        kw = {"encoding_format": fmt} if fmt else {}
        r8 = client.embeddings.create(model=model, input=["a", "b"], dimensions=8, **kw)
        for d in r8.data:
            emb = d.embedding
            n = len(base64.b64decode(emb)) // 4 if isinstance(emb, str) else len(emb)
            check_eq(n, 8, f"{model}: vector length with dimensions=8 (encoding_format={fmt or 'SDK default'})")


def check_raw_stream(model: str) -> None:
    rid = f"e2e-stream-{uuid.uuid4()}"
    s = open_stream(f"{BASE}/chat/completions", KEY, {"model": model, "messages": MESSAGES, "stream": True},
                    extra_headers={"x-request-id": rid})
    try:
        body_if_error = b"" if s.status == 200 else s.resp.read()
        check_eq(s.status, 200, f"{model}: stream status ({body_if_error[:300]!r})")
        ctype = s.headers.get("content-type", "")
        check(ctype.startswith("text/event-stream"), f"{model}: stream content-type {ctype!r}")
        check_eq(s.headers.get("x-switchboard-model"), model, f"{model}: x-switchboard-model on a stream")
        check_eq(s.headers.get("x-request-id"), rid, f"{model}: x-request-id echoed on a stream")
        res = read_chat_stream(s)
    finally:
        s.close()
    check(res.done, f"{model}: the stream did not end with data: [DONE] (last lines: {s.raw_lines[-5:]})")
    check_eq(res.events_after_done, 0, f"{model}: events after [DONE]")
    check(res.text.strip(), f"{model}: streamed text empty")
    check_eq(res.finish_reasons, ["stop"], f"{model}: finish_reasons")
    check(not res.usage_chunks, f"{model}: usage leaked into a stream that did not ask for it: {res.usage_chunks[:1]}")
    for c in res.chunks:
        check_eq(c.get("object"), "chat.completion.chunk", f"{model}: chunk object")
    check_eq(len({c.get("id") for c in res.chunks}), 1, f"{model}: one id across the stream's chunks")


def disconnect_after_first_chunk(model: str) -> str:
    """Opens a stream, reads one chunk and goes away; returns the request id."""
    rid = f"e2e-gone-{uuid.uuid4()}"
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True, extra_headers={"x-request-id": rid})
    it = iter(stream)
    first = next(it)
    check(first is not None, "no first chunk")
    started = time.monotonic()
    stream.close()
    check(time.monotonic() - started < 5, "closing the stream took too long")
    return rid


def check_logged_as_abandoned(ids: list[str]) -> None:
    """Waits until the gateway has finished with each abandoned request (its request-log record is written), and
    checks it was recorded as the client going away."""
    def logged(rid: str) -> dict | None:
        r = request("GET", f"{ROOT}/admin/logs/{rid}", headers=bearer(args.master_key), timeout=5)
        return r.json() if r.status == 200 else None
    for rid in ids:
        rec = wait_until(lambda: logged(rid), 10, f"the request-log record of the abandoned stream {rid}")
        check_eq(rec.get("status"), 499, f"recorded status of the abandoned stream {rid}")


# ----------------------------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------------------------

@test
def test_health_endpoints():
    for path in ("/healthz", "/readyz"):
        r = request("GET", ROOT + path)
        check_eq(r.status, 200, f"GET {path}")


@test
def test_chat_plain_demo():
    check_plain_chat("demo", "sim")


@test
def test_chat_cost_matches_price():
    raw = client.chat.completions.with_raw_response.create(model="demo", messages=MESSAGES, max_tokens=12)
    resp = raw.parse()
    check_usage(resp.usage, "demo")
    cost = float(raw.headers["x-switchboard-cost-usd"])
    check(cost > 0, f"x-switchboard-cost-usd must be > 0 for the priced demo model, got {cost}")
    expected = (resp.usage.prompt_tokens * PRICE_IN + resp.usage.completion_tokens * PRICE_OUT) / 1_000_000
    check(abs(cost - expected) <= max(1e-6, 0.01 * expected),
          f"x-switchboard-cost-usd {cost} != {expected} (usage {resp.usage.prompt_tokens}+{resp.usage.completion_tokens} "
          f"tokens at {PRICE_IN}/{PRICE_OUT} USD per 1M)")


@test
def test_request_id_echo():
    rid = f"e2e-{uuid.uuid4()}"
    raw = client.chat.completions.with_raw_response.create(model="demo", messages=MESSAGES,
                                                           extra_headers={"x-request-id": rid})
    check_eq(raw.headers.get("x-request-id"), rid, "x-request-id echoed")
    raw.parse()
    # And a generated one is unique per request.
    a = client.chat.completions.with_raw_response.create(model="demo", messages=MESSAGES).headers.get("x-request-id")
    b = client.chat.completions.with_raw_response.create(model="demo", messages=MESSAGES).headers.get("x-request-id")
    check(a and b and a != b, f"generated x-request-id values must differ: {a!r} {b!r}")


@test
def test_chat_stream_no_usage_unless_asked():
    check_stream_without_usage("demo")


@test
def test_chat_stream_include_usage():
    check_stream_with_usage("demo")


@test
def test_chat_stream_raw_sse():
    check_raw_stream("demo")


@test
def test_chat_max_tokens():
    resp = client.chat.completions.create(model="demo", messages=MESSAGES, max_tokens=5)
    check(resp.usage.completion_tokens <= 5, f"max_tokens=5 but completion_tokens={resp.usage.completion_tokens}")


@test
def test_tools_plain():
    check_tools_plain("demo")


@test
def test_tools_stream():
    check_tools_stream("demo")


@test
def test_embeddings():
    check_embeddings("demo")


@test
def test_models_list():
    models = list(client.models.list())
    ids = [m.id for m in models]
    for name in ("demo", "slow", "remote"):
        check(name in ids, f"{name!r} missing from /v1/models: {ids}")
    check_eq(len(ids), len(set(ids)), f"duplicate ids in /v1/models: {ids}")
    # OpenAI's fields parse as the SDK's Model; OpenRouter's ride along as extra fields.
    demo = next(m for m in models if m.id == "demo")
    check_eq((demo.object, demo.owned_by, type(demo.created)), ("model", "switchboard", int), "OpenAI's fields")
    extra = demo.model_extra or {}
    # The e2e config prices demo at 1 USD / 2 USD per million tokens: per token, as strings.
    check_eq(extra.get("pricing"), {"prompt": "0.000001", "completion": "0.000002"}, "pricing per token")
    check("context_length" in extra and "top_provider" in extra, f"context_length / top_provider missing: {sorted(extra)}")
    check_eq(extra.get("architecture", {}).get("input_modalities"), ["text", "image"], "architecture.input_modalities")
    check_eq(extra.get("capabilities"), {"tools": True, "vision": True, "json_mode": True, "streaming": True, "embeddings": False},
             "capabilities")
    check("tools" in extra.get("supported_parameters", []), f"supported_parameters: {extra.get('supported_parameters')}")
    auto = next(m for m in models if m.id == "auto")
    check_eq((auto.model_extra or {}).get("switchboard", {}).get("virtual"), True, "auto is listed as a virtual model")


@test
def test_models_retrieve():
    demo = client.models.retrieve("demo")
    check_eq((demo.id, demo.object), ("demo", "model"), "models.retrieve('demo')")
    check_eq((demo.model_extra or {}).get("pricing", {}).get("prompt"), "0.000001", "retrieved pricing")
    try:
        client.models.retrieve("no-such-model")
        check(False, "an unknown model retrieved without an error")
    except openai.NotFoundError as e:
        check_eq(e.status_code, 404, "status of an unknown model")
        check_eq((e.body or {}).get("code"), "model_not_found", "error code of an unknown model")


@test
def test_auto_routing():
    """`model: "auto"` (a virtual model of the e2e config): its rules choose, and every answer says which rule."""
    ids = [m.id for m in client.models.list()]
    check("auto" in ids, f"auto missing from /v1/models: {ids}")
    if not args.skip_remote:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Why does this fail?\n```python\nprint(1/0)\n```"}])
        check_eq(raw.headers.get("x-switchboard-model"), "remote", "code goes to the remote model")
        check_eq(raw.headers.get("x-switchboard-route"), "primary; rule=code", "x-switchboard-route")
        check(raw.parse().choices[0].message.content, "no answer text")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": "Hello!"}])
    check_eq(raw.headers.get("x-switchboard-model"), "demo", "the first tier serves the rest")
    check_eq(raw.headers.get("x-switchboard-route"), "primary; rule=default; tier=1", "x-switchboard-route")
    stream = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hello!"}], stream=True,
                                            extra_body={"provider": {"only": ["sim"]}})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    check(text, "the streamed answer for auto is empty")
    # A provider object the gateway cannot honour is the client's 400, in OpenAI's shape.
    try:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hi"}],
                                       extra_body={"provider": {"sort": "fastest"}})
        check(False, "provider.sort=fastest was accepted")
    except openai.BadRequestError as e:
        check_eq(e.body.get("param") if isinstance(e.body, dict) else None, "provider.sort", "param")


@test
def test_auth_wrong_key():
    bad = OpenAI(base_url=BASE, api_key="sk-wrong-key", max_retries=0, timeout=30.0)
    try:
        bad.chat.completions.create(model="demo", messages=MESSAGES)
    except openai.AuthenticationError as e:
        check_eq(e.status_code, 401, "status")
        check(isinstance(e.body, dict) and e.body.get("message") and e.body.get("type"),
              f"error body not OpenAI-shaped: {e.body!r}")
        check("sk-wrong-key" not in json.dumps(e.body), "the error message echoes the presented key")
    else:
        raise AssertionError("a wrong key was accepted")
    try:
        bad.models.list()
    except openai.AuthenticationError:
        pass
    else:
        raise AssertionError("a wrong key could list models")


@test
def test_auth_missing_key_and_x_api_key():
    payload = {"model": "demo", "messages": MESSAGES}
    r = request("POST", f"{BASE}/chat/completions", json_body=payload)
    check_eq(r.status, 401, f"no key: status ({r.body[:300]!r})")
    r.error_object()
    r = request("POST", f"{BASE}/chat/completions", json_body=payload, headers={"x-api-key": KEY})
    check_eq(r.status, 200, f"x-api-key auth: status ({r.body[:300]!r})")
    doc = r.json()
    check(doc.get("choices") and doc["choices"][0]["message"]["content"], f"x-api-key auth: no content: {doc}")
    r = request("POST", f"{BASE}/chat/completions", json_body=payload, headers={"x-api-key": "sk-nope"})
    check_eq(r.status, 401, "wrong x-api-key: status")


@test
def test_master_key():
    m = OpenAI(base_url=BASE, api_key=args.master_key, max_retries=0, timeout=30.0)
    resp = m.chat.completions.create(model="demo", messages=MESSAGES)
    check(resp.choices[0].message.content, "master key: empty content")


@test
def test_unknown_model():
    name = "no-such-model-e2e"
    try:
        client.chat.completions.create(model=name, messages=MESSAGES)
    except openai.NotFoundError as e:
        check_eq(e.status_code, 404, "status")
        check(isinstance(e.body, dict), f"error body not an object: {e.body!r}")
        check(name in (e.body.get("message") or ""), f"the error message does not name the model: {e.body!r}")
    else:
        raise AssertionError("an unknown model was accepted")
    try:
        client.embeddings.create(model=name, input="x")
    except openai.NotFoundError as e:
        check(name in (e.body.get("message") or ""), f"embeddings: the error message does not name the model: {e.body!r}")
    else:
        raise AssertionError("embeddings: an unknown model was accepted")


@test
def test_malformed_json():
    r = request("POST", f"{BASE}/chat/completions", body=b'{"model": "demo", "messages": [',
                headers={**bearer(KEY), "Content-Type": "application/json"})
    check_eq(r.status, 400, f"malformed JSON: status ({r.body[:300]!r})")
    err = r.error_object()
    check(r.headers.get("content-type", "").startswith("application/json"), f"content-type {r.headers.get('content-type')!r}")
    check_eq(err["type"], "invalid_request_error", "error.type")


@test
def test_unknown_path():
    r = request("GET", f"{BASE}/no-such-endpoint", headers=bearer(KEY))
    check_eq(r.status, 404, f"unknown path: status ({r.body[:300]!r})")
    r.error_object()


@test
def test_body_too_large():
    # Announce a body just over the limit and send it from a second thread; the gateway must answer 413
    # (it may stop reading early, so send errors are expected and ignored).
    limit = args.max_body_bytes
    size = limit + 1024 * 1024
    host, port = ROOT.split("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()

    def send_body():
        try:
            sock.sendall(head)
            prefix = b'{"model":"demo","messages":[{"role":"user","content":"'
            sock.sendall(prefix)
            remaining = size - len(prefix) - 4
            piece = b"x" * 65536
            while remaining > 0:
                n = min(remaining, len(piece))
                sock.sendall(piece[:n])
                remaining -= n
            sock.sendall(b'"}]}')
        except OSError:
            pass

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n" not in data:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except ConnectionResetError:
        pass
    finally:
        sender.join(timeout=10)
        sock.close()
    status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    check(status_line.startswith("HTTP/1.1 413") or status_line.startswith("HTTP/1.0 413"),
          f"a {size}-byte body (limit {limit}) got {status_line!r} instead of 413")
    # The gateway is still fine afterwards.
    check(client.chat.completions.create(model="demo", messages=MESSAGES).choices, "chat after a 413")


@test
def test_remote_plain():
    need_remote()
    check_plain_chat("remote", "remote")


@test
def test_remote_stream():
    need_remote()
    check_stream_without_usage("remote")
    check_stream_with_usage("remote")
    check_raw_stream("remote")


@test
def test_remote_tools():
    need_remote()
    check_tools_plain("remote")
    check_tools_stream("remote")


@test
def test_anthropic_backend_plain():
    """The openai SDK against a kind: anthropic provider (the mock's /v1/messages over HTTP): translated both ways."""
    need_remote()
    check_plain_chat("claude", "remote-claude")


@test
def test_anthropic_backend_stream():
    need_remote()
    check_stream_without_usage("claude")
    check_stream_with_usage("claude")
    check_raw_stream("claude")


@test
def test_anthropic_backend_tools():
    need_remote()
    check_tools_plain("claude")
    check_tools_stream("claude")


@test
def test_gemini_backend():
    """The openai SDK against a kind: gemini provider (the mock's generateContent API over HTTP)."""
    need_remote()
    check_plain_chat("gemini", "remote-gemini")
    check_stream_without_usage("gemini")
    check_stream_with_usage("gemini")
    check_tools_plain("gemini")
    check_tools_stream("gemini")
    check_embeddings("gemini")


@test
def test_remote_embeddings():
    need_remote()
    check_embeddings("remote")


@test
def test_client_disconnect_slow():
    ids = [disconnect_after_first_chunk("slow") for _ in range(3)]
    check_logged_as_abandoned(ids)
    check_eq(request("GET", ROOT + "/healthz").status, 200, "healthz after disconnects")
    check(client.chat.completions.create(model="demo", messages=MESSAGES).choices[0].message.content,
          "a chat after the disconnects failed")
    chunks, text = sdk_stream("slow", stream_options={"include_usage": True})
    check(text.strip(), "a full `slow` stream after the disconnects is empty")
    check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, "slow stream: no usage at the end")


@test
def test_client_disconnect_remote():
    need_remote()
    ids = []
    for _ in range(3):
        rid = f"e2e-gone-{uuid.uuid4()}"
        s = open_stream(f"{BASE}/chat/completions", KEY,
                        {"model": "remote", "messages": MESSAGES, "stream": True, "max_tokens": 200},
                        extra_headers={"x-request-id": rid})
        check_eq(s.status, 200, "remote stream status")
        events = s.events()
        first = next(events)
        check(first and first != "[DONE]", f"unexpected first event {first!r}")
        s.close()
        ids.append(rid)
    check_logged_as_abandoned(ids)
    check_plain_chat("remote", "remote")
    check_stream_with_usage("remote")


@test
def test_concurrent_streams():
    results: list[object] = [None] * 8

    def worker(i: int) -> None:
        try:
            s = open_stream(f"{BASE}/chat/completions", KEY, {
                "model": "remote" if (i % 2 and not args.skip_remote) else "demo",
                "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}})
            try:
                check_eq(s.status, 200, "status")
                res = read_chat_stream(s)
            finally:
                s.close()
            check(res.done and res.text and len(res.usage_chunks) == 1, f"stream {i} incomplete")
            results[i] = True
        except Exception as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    bad = [(i, r) for i, r in enumerate(results) if r is not True]
    check(not bad, f"concurrent streams failed: {bad}")


if __name__ == "__main__":
    print(f"openai SDK {openai.__version__} against {BASE}", flush=True)
    sys.exit(runner.run(args.only))
