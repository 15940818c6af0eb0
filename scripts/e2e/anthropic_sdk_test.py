#!/usr/bin/env python3
"""End-to-end tests of Switchboard's Anthropic surface (POST /v1/messages) through the official `anthropic` SDK.

Runs against a live gateway, with one model backed by an OpenAI-compatible deployment (translated both ways) and one
backed by an Anthropic deployment (bytes passed through). Prints one PASS/FAIL line per test and closes with
`anthropic-sdk: N passed, M failed`; exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

import anthropic

parser = argparse.ArgumentParser()
parser.add_argument("--base-url", required=True, help="the gateway, e.g. http://127.0.0.1:8080 (no /v1)")
parser.add_argument("--key", required=True)
parser.add_argument("--models", default="demo,claude", help="comma-separated public models to test")
args = parser.parse_args()

client = anthropic.Anthropic(base_url=args.base_url, api_key=args.key, max_retries=0, timeout=30)
TOOLS = [{"name": "get_weather", "description": "Weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
results: list[tuple[str, bool]] = []


def check(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


def run(name: str, fn) -> None:
    start = time.monotonic()
    try:
        fn()
        results.append((name, True))
        print(f"PASS {name} ({time.monotonic() - start:.2f}s)", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        results.append((name, False))
        print(f"FAIL {name}: {e}", flush=True)
        traceback.print_exc(limit=3)


def plain(model: str) -> None:
    raw = client.messages.with_raw_response.create(model=model, max_tokens=64, system="Be brief.",
                                                    messages=[{"role": "user", "content": "Hello there"}])
    msg = raw.parse()
    check(msg.type == "message" and msg.role == "assistant", f"{model}: not a message: {msg}")
    check(msg.content and msg.content[0].type == "text" and msg.content[0].text.strip(), f"{model}: no text: {msg.content}")
    check(msg.stop_reason in ("end_turn", "max_tokens"), f"{model}: stop_reason {msg.stop_reason}")
    check(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens or 0) > 0 and msg.usage.output_tokens > 0, f"{model}: usage {msg.usage}")
    check(raw.headers.get("x-switchboard-model") == model, f"{model}: x-switchboard-model {raw.headers.get('x-switchboard-model')}")
    check(float(raw.headers.get("x-switchboard-cost-usd", "-1")) >= 0, f"{model}: no cost header")


def stream(model: str) -> None:
    with client.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "Stream please"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    check(text.strip(), f"{model}: empty streamed text")
    check(final.content[0].text == text, f"{model}: final message differs from the streamed text")
    check(final.usage.output_tokens > 0, f"{model}: streamed usage {final.usage}")
    check(final.stop_reason in ("end_turn", "max_tokens"), f"{model}: stop_reason {final.stop_reason}")


def tools(model: str) -> None:
    msg = client.messages.create(model=model, max_tokens=128, tools=TOOLS, messages=[{"role": "user", "content": "Weather in Paris?"}])
    check(msg.stop_reason == "tool_use", f"{model}: stop_reason {msg.stop_reason}")
    use = [b for b in msg.content if b.type == "tool_use"]
    check(use and use[0].name == "get_weather" and isinstance(use[0].input, dict), f"{model}: tool_use {msg.content}")
    # Answer the tool call: the model then replies in text.
    follow = client.messages.create(model=model, max_tokens=64, tools=TOOLS, messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use[0].id, "content": "18C and sunny"}]},
    ])
    check(follow.stop_reason in ("end_turn", "max_tokens") and follow.content[0].type == "text", f"{model}: after tool_result {follow}")
    with client.messages.stream(model=model, max_tokens=128, tools=TOOLS, messages=[{"role": "user", "content": "Weather in Rome?"}]) as s:
        final = s.get_final_message()
    use = [b for b in final.content if b.type == "tool_use"]
    check(use and use[0].name == "get_weather" and isinstance(use[0].input, dict), f"{model}: streamed tool_use {final.content}")


def errors() -> None:
    bad = anthropic.Anthropic(base_url=args.base_url, api_key="sk-wrong", max_retries=0)
    try:
        bad.messages.create(model="demo", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("a wrong key was accepted")
    except anthropic.AuthenticationError as e:
        check(e.body["error"]["type"] == "authentication_error", f"error body {e.body}")
    try:
        client.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("an unknown model was accepted")
    except anthropic.NotFoundError as e:
        check("no-such-model" in str(e), f"message does not name the model: {e}")


for m in args.models.split(","):
    run(f"{m}: plain", lambda m=m: plain(m))
    run(f"{m}: stream", lambda m=m: stream(m))
    run(f"{m}: tools", lambda m=m: tools(m))
run("errors in Anthropic's shape", errors)

passed = sum(1 for _, ok in results if ok)
failed = len(results) - passed
print(f"anthropic-sdk: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
