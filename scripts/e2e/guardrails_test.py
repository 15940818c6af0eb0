#!/usr/bin/env python3
"""The privacy guardrail (`guardrails.pii`) end to end, through the official openai and anthropic SDKs.

    .venv/bin/python scripts/e2e/guardrails_test.py --bin .build/debug/switchboard --work /tmp/guardrails

Starts the gateway with a config of its own: three policies chosen by key (block, redact, pseudonymise), one by
model (embeddings, redact), all with a configured name and an operator pattern; echoing mock providers (`reply:
echo`: the answer is the last user message as the upstream got it) in both wire formats; and a recording fake
upstream (an `openai` and an `anthropic` provider) that echoes in 3-byte pieces, so placeholders arrive split inside
and across events. The request log keeps bodies unredacted (`logging.bodies.redact: []`), so a raw value that reached
an upstream would show in it. Checks, with planted values of every kind (e-mail, phone, card, IBAN, SSN, IPv4 and
IPv6, secrets, a configured name, a custom pattern):
  - pseudonymise: chat completions and Anthropic messages (system included), whole and streamed, through echoing
    upstreams and through translation (chat on an Anthropic upstream, messages on an OpenAI one): the client gets its
    own text back exactly; the upstream (request log, recording upstream) saw numbered placeholders only, the same
    value the same placeholder across system, content parts, tool-call arguments and tool results; split
    placeholders and a placeholder-like tail held at a stream's end are restored;
  - redact: the client gets typed placeholders, whole and streamed, in both APIs; embeddings inputs are redacted;
  - block: 400 `pii_detected` raised by each SDK (both APIs, streamed or not, and embeddings), naming the kinds and
    never a value; the refused request's log record holds placeholders only;
  - `x-switchboard-guardrails`, `switchboard_refused_total{reason="pii_detected"}`, a gateway log free of values;
  - the documented limit: a literal placeholder in the client's own text comes back as the value.
Prints PASS/FAIL per check and closes with `guardrails: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import anthropic
import openai
from openai import OpenAI

from e2e_lib import FakeUpstream, Runner, SetupFailed, bearer, check, check_eq, free_port, request, stop_processes, wait_http_ok, wait_until

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--only", action="append", default=[], help="run only tests whose name contains this")
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)

runner = Runner("guardrails")
test = runner.test
MASTER = "sk-master-guardrails"
KEYS = {"pseudonymise": "sk-gr-mask", "redact": "sk-gr-redact", "block": "sk-gr-block"}

# Planted values of every kind, and a text that holds them all (each kind once; `{kind}` marks where).
VALUES = {
    "name": "Jane Doe",
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "123-45-6789",
    "ip": "192.168.10.20",
    "secret": "sk-proj-abc123DEF456ghi789JKL012",
    "employee_id": "EMP-123456",
}
TEMPLATE = ("{name} here: write to {email} or call {phone}. Card {card}, IBAN {iban}, SSN {ssn}. "
            "Server {ip}, key {secret}, badge {employee_id}.")
TEXT = TEMPLATE.format(**VALUES)
# More raw values found by the same kinds (used in some requests): none may reach an upstream either.
EXTRA = {"ip": "2001:db8::8a2e:370:7334", "secret": "AKIAIOSFODNN7EXAMPLE", "email": "ops@corp.example.org"}
RAW = list(VALUES.values()) + list(EXTRA.values())
KINDS = sorted(VALUES)                       # the header and error messages list kinds sorted by name
LABEL = {k: k.upper() for k in KINDS}        # placeholder labels: EMAIL, EMPLOYEE_ID…
REDACTED = TEMPLATE.format(**{k: f"[{LABEL[k]}]" for k in KINDS})
PSEUDONYMISED = TEMPLATE.format(**{k: f"[{LABEL[k]}_1]" for k in KINDS})
BLOCKS = 0                                   # block refusals made; the metric must count exactly these


# --------------------------------------------------------------------------------------------------------------
# A recording upstream that echoes in 3-byte pieces (OpenAI chat completions and Anthropic messages)
# --------------------------------------------------------------------------------------------------------------

class Upstream(FakeUpstream):
    bodies: list[str] = []
    lock = threading.Lock()
    PIECE = 3

    @staticmethod
    def last_user_text(messages: list) -> str:
        for m in reversed(messages):
            if m.get("role") == "user":
                c = m.get("content")
                return c if isinstance(c, str) else "".join(p.get("text", "") for p in c if isinstance(p, dict))
        return ""

    def do_GET(self) -> None:  # noqa: N802 - health checks, /models
        self.send(200, {"object": "list", "data": []})

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        with Upstream.lock:
            Upstream.bodies.append(raw)
        body = json.loads(raw)
        text = self.last_user_text(body.get("messages") or [])
        pieces = [text[i:i + self.PIECE] for i in range(0, len(text), self.PIECE)] or [""]
        anthropic_api = self.path.endswith("/messages")
        if not body.get("stream"):
            if anthropic_api:
                self.send(200, {"id": "msg_up", "type": "message", "role": "assistant", "model": body.get("model"),
                                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                                "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": len(pieces)}})
            else:
                self.send(200, {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": body.get("model"),
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}})
            return
        self.start_stream()
        if anthropic_api:
            self.event("message_start", {"type": "message_start", "message": {
                "id": "msg_up", "type": "message", "role": "assistant", "model": body.get("model"), "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 0}}})
            self.event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            for p in pieces:
                self.event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
            self.event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self.event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                         "usage": {"output_tokens": len(pieces)}})
            self.event("message_stop", {"type": "message_stop"})
        else:
            head = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": body.get("model")}
            self.event(None, {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            for p in pieces:
                self.event(None, {**head, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
            self.event(None, {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.event(None, {**head, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}})
            self.chunk(b"data: [DONE]\n\n")
        self.chunk(b"")


# --------------------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------------------

up_server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=up_server.serve_forever, daemon=True).start()
UP = up_server.server_address[1]
PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
NAMES = '[Jane Doe]'
PATTERNS = '{ employee_id: "EMP-[0-9]{6}" }'
CONFIG = f"""\
server: {{ listen: "127.0.0.1:{PORT}" }}
storage: memory
auth:
  master_key: "{MASTER}"
  keys:
    - {{ name: masked, key: "{KEYS['pseudonymise']}" }}
    - {{ name: redacted, key: "{KEYS['redact']}" }}
    - {{ name: blocked, key: "{KEYS['block']}" }}
providers:
  - {{ name: echo, kind: mock, reply: echo }}
  - {{ name: echo-claude, kind: mock, reply: echo, api: anthropic }}
  - {{ name: pieces, kind: openai, base_url: "http://127.0.0.1:{UP}/v1", api_key: "sk-upstream" }}
  - {{ name: pieces-claude, kind: anthropic, base_url: "http://127.0.0.1:{UP}", api_key: "sk-upstream" }}
models:
  - {{ name: chat, deployments: [ {{ provider: echo, model: echo-1 }} ] }}
  - {{ name: claude, deployments: [ {{ provider: echo-claude, model: echo-claude-1 }} ] }}
  - {{ name: emb, deployments: [ {{ provider: echo, model: emb-1 }} ] }}
  - {{ name: split, deployments: [ {{ provider: pieces, model: up-1 }} ] }}
  - {{ name: split-claude, deployments: [ {{ provider: pieces-claude, model: up-claude-1 }} ] }}
logging:
  bodies: {{ enabled: true, max_bytes: 1048576, redact: [] }}   # unredacted: a raw value upstream would show here
guardrails:
  pii:
    - {{ name: no-pii, action: block, keys: [blocked], names: {NAMES}, patterns: {PATTERNS} }}
    - {{ name: scrub, action: redact, keys: [redacted], names: {NAMES}, patterns: {PATTERNS} }}
    - {{ name: embeddings, action: redact, models: [emb], names: {NAMES}, patterns: {PATTERNS} }}
    - {{ name: mask, action: pseudonymise, names: {NAMES}, patterns: {PATTERNS} }}
"""
CFG = os.path.join(args.work, "guardrails.yaml")
with open(CFG, "w") as f:
    f.write(CONFIG)
GW_ERR = os.path.join(args.work, "gateway.err.log")
procs: list[subprocess.Popen] = []


def oai(action: str) -> OpenAI:
    return OpenAI(base_url=f"{BASE}/v1", api_key=KEYS[action], max_retries=0, timeout=30.0)


def claude(action: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=BASE, api_key=KEYS[action], max_retries=0, timeout=30.0)


def header_for(action: str, kinds: list[str] = KINDS) -> str:
    return f"pii={action}:{','.join(sorted(kinds))}"


def logged(request_id: str) -> dict:
    """The request-log record of `request_id` with its bodies (written off the request path: waited for)."""
    def get() -> dict | None:
        r = request("GET", f"{BASE}/admin/logs/{request_id}", headers=bearer(MASTER), timeout=5)
        return r.json() if r.status == 200 else None
    return wait_until(get, 10, f"request log record {request_id}")


def no_raw(text: str | None, what: str, raw: list[str] = RAW) -> None:
    check(text is not None, f"{what}: nothing to look at")
    leaked = [v for v in raw if v in text]
    check(not leaked, f"{what} holds raw values {leaked}: {text[:600]}")


def upstream_saw(request_id: str, placeholders: list[str]) -> dict:
    """The log record, checked: what went upstream (request body) and what came back from it (the answer before
    restoring) hold no raw value; the request body holds each of `placeholders`."""
    rec = logged(request_id)
    no_raw(rec.get("request_body"), "the logged request body (what went upstream)")
    no_raw(rec.get("response_body"), "the logged response body (what the upstream answered)")
    missing = [p for p in placeholders if p not in rec["request_body"]]
    check(not missing, f"placeholders {missing} not in the logged request body: {rec['request_body'][:600]}")
    return rec


def upstream_bodies_since(n: int) -> list[str]:
    with Upstream.lock:
        return Upstream.bodies[n:]


def upstream_count() -> int:
    with Upstream.lock:
        return len(Upstream.bodies)


def refused_pii() -> float:
    text = request("GET", f"{BASE}/metrics", timeout=5).body.decode()
    m = re.search(r'^switchboard_refused_total\{reason="pii_detected"\} (\S+)$', text, re.M)
    check(m, "no switchboard_refused_total{reason=\"pii_detected\"} series in /metrics")
    return float(m.group(1))


def openai_stream(client: OpenAI, **kw: object) -> tuple[str, dict[str, str]]:
    """A streamed chat completion through the SDK: its text and the response headers."""
    with client.chat.completions.with_streaming_response.create(stream=True, **kw) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    return text, headers


def anthropic_stream(client: anthropic.Anthropic, **kw: object) -> tuple[str, str, dict[str, str]]:
    """A streamed Anthropic message through the SDK: the text events joined, the final message's text, headers."""
    with client.messages.stream(**kw) as s:
        headers = {k.lower(): v for k, v in s.response.headers.items()}
        pieces = "".join(s.text_stream)
        final = "".join(b.text for b in s.get_final_message().content if b.type == "text")
    return pieces, final, headers


# --------------------------------------------------------------------------------------------------------------
# Pseudonymise
# --------------------------------------------------------------------------------------------------------------

ALL_PLACEHOLDERS = [f"[{LABEL[k]}_1]" for k in KINDS]


@test
def test_pseudonymise_chat_whole_restores_every_kind():
    raw = oai("pseudonymise").chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": TEXT}])
    check_eq(raw.parse().choices[0].message.content, TEXT, "the answer (the echo, restored)")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("pseudonymise"), "x-switchboard-guardrails")
    rec = upstream_saw(raw.headers["x-request-id"], ALL_PLACEHOLDERS)
    check(PSEUDONYMISED in rec["request_body"], f"upstream did not get {PSEUDONYMISED!r}: {rec['request_body'][:400]}")
    check(PSEUDONYMISED in rec["response_body"], "the upstream's echo (before restoring) is not the pseudonymised text")


@test
def test_pseudonymise_chat_streamed_restores_every_kind():
    text, headers = openai_stream(oai("pseudonymise"), model="chat", messages=[{"role": "user", "content": TEXT}])
    check_eq(text, TEXT, "the streamed answer, restored")
    check_eq(headers.get("x-switchboard-guardrails"), header_for("pseudonymise"), "x-switchboard-guardrails")
    upstream_saw(headers["x-request-id"], ALL_PLACEHOLDERS)


@test
def test_pseudonymise_chat_masks_system_parts_tool_arguments_and_results_consistently():
    email, ip6, akia = VALUES["email"], EXTRA["ip"], EXTRA["secret"]
    messages = [
        {"role": "system", "content": f"Support desk for {email}; escalate to {EXTRA['email']}."},
        {"role": "user", "content": f"Look up {VALUES['name']}."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "lookup", "arguments": json.dumps({"email": email, "host": ip6})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"found: {VALUES['phone']}, key {akia}"},
        {"role": "user", "content": [{"type": "text", "text": f"Mail {email} "}, {"type": "text", "text": f"from {ip6}."}]},
    ]
    raw = oai("pseudonymise").chat.completions.with_raw_response.create(model="chat", messages=messages)
    check_eq(raw.parse().choices[0].message.content, f"Mail {email} from {ip6}.", "the answer (last user message's parts, restored)")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("pseudonymise", ["email", "ip", "name", "phone", "secret"]),
             "x-switchboard-guardrails")
    rec = upstream_saw(raw.headers["x-request-id"], ["[EMAIL_1]", "[EMAIL_2]", "[IP_1]", "[NAME_1]", "[PHONE_1]", "[SECRET_1]"])
    sent = json.loads(rec["request_body"])["messages"]
    check_eq(sent[0]["content"], "Support desk for [EMAIL_1]; escalate to [EMAIL_2].", "system message upstream")
    check_eq(json.loads(sent[2]["tool_calls"][0]["function"]["arguments"]), {"email": "[EMAIL_1]", "host": "[IP_1]"},
             "tool-call arguments upstream (the same value, the same placeholder)")
    check_eq(sent[3]["content"], "found: [PHONE_1], key [SECRET_1]", "tool result upstream")
    check_eq([p["text"] for p in sent[4]["content"]], ["Mail [EMAIL_1] ", "from [IP_1]."], "content parts upstream")
    check_eq(sent[2]["tool_calls"][0]["id"], "call_1", "ids are left alone")


@test
def test_pseudonymise_anthropic_whole_system_included():
    raw = claude("pseudonymise").messages.with_raw_response.create(
        model="claude", max_tokens=1000, system=f"The customer is {VALUES['name']} <{VALUES['email']}>.",
        messages=[{"role": "user", "content": [{"type": "text", "text": TEXT}]}])
    msg = raw.parse()
    check_eq(msg.content[0].text, TEXT, "the answer, restored")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("pseudonymise"), "x-switchboard-guardrails")
    rec = upstream_saw(raw.headers["x-request-id"], ALL_PLACEHOLDERS)
    check_eq(json.loads(rec["request_body"])["system"], "The customer is [NAME_1] <[EMAIL_1]>.", "system upstream")


@test
def test_pseudonymise_anthropic_streamed_system_blocks_included():
    pieces, final, headers = anthropic_stream(
        claude("pseudonymise"), model="claude", max_tokens=1000,
        system=[{"type": "text", "text": f"Account {VALUES['iban']} of {VALUES['name']}."}],
        messages=[{"role": "user", "content": TEXT}])
    check_eq(pieces, TEXT, "the streamed text, restored")
    check_eq(final, TEXT, "the SDK's final message, restored")
    check_eq(headers.get("x-switchboard-guardrails"), header_for("pseudonymise"), "x-switchboard-guardrails")
    rec = upstream_saw(headers["x-request-id"], ALL_PLACEHOLDERS)
    check_eq(json.loads(rec["request_body"])["system"][0]["text"], "Account [IBAN_1] of [NAME_1].", "system block upstream")


@test
def test_pseudonymise_through_translation_both_ways():
    # Chat completions served by an Anthropic-format upstream, and Anthropic messages by an OpenAI-format one.
    raw = oai("pseudonymise").chat.completions.with_raw_response.create(model="claude", messages=[{"role": "user", "content": TEXT}])
    check_eq(raw.parse().choices[0].message.content, TEXT, "chat on an Anthropic upstream, whole")
    upstream_saw(raw.headers["x-request-id"], ALL_PLACEHOLDERS)
    text, headers = openai_stream(oai("pseudonymise"), model="claude", messages=[{"role": "user", "content": TEXT}])
    check_eq(text, TEXT, "chat on an Anthropic upstream, streamed")
    upstream_saw(headers["x-request-id"], ALL_PLACEHOLDERS)
    msg = claude("pseudonymise").messages.with_raw_response.create(model="chat", max_tokens=1000, messages=[{"role": "user", "content": TEXT}])
    check_eq(msg.parse().content[0].text, TEXT, "messages on an OpenAI upstream, whole")
    upstream_saw(msg.headers["x-request-id"], ALL_PLACEHOLDERS)
    pieces, final, headers = anthropic_stream(claude("pseudonymise"), model="chat", max_tokens=1000, messages=[{"role": "user", "content": TEXT}])
    check_eq((pieces, final), (TEXT, TEXT), "messages on an OpenAI upstream, streamed")
    upstream_saw(headers["x-request-id"], ALL_PLACEHOLDERS)


@test
def test_pseudonymise_placeholders_split_inside_and_across_events():
    # The recording upstream answers in 3-byte pieces, each event cut in two TCP chunks: "[EM" "AIL" "_1]".
    n = upstream_count()
    whole = oai("pseudonymise").chat.completions.create(model="split", messages=[{"role": "user", "content": TEXT}])
    check_eq(whole.choices[0].message.content, TEXT, "OpenAI upstream, whole")
    text, _ = openai_stream(oai("pseudonymise"), model="split", messages=[{"role": "user", "content": TEXT}])
    check_eq(text, TEXT, "OpenAI upstream, streamed in 3-byte pieces")
    pieces, final, _ = anthropic_stream(claude("pseudonymise"), model="split-claude", max_tokens=1000,
                                        system=f"For {VALUES['email']}", messages=[{"role": "user", "content": TEXT}])
    check_eq((pieces, final), (TEXT, TEXT), "Anthropic upstream, streamed in 3-byte pieces")
    msg = claude("pseudonymise").messages.create(model="split-claude", max_tokens=1000, messages=[{"role": "user", "content": TEXT}])
    check_eq(msg.content[0].text, TEXT, "Anthropic upstream, whole")
    # Through translation: Anthropic messages on the OpenAI upstream, chat completions on the Anthropic one.
    pieces, final, _ = anthropic_stream(claude("pseudonymise"), model="split", max_tokens=1000, messages=[{"role": "user", "content": TEXT}])
    check_eq((pieces, final), (TEXT, TEXT), "messages on the OpenAI upstream, streamed in pieces")
    text, _ = openai_stream(oai("pseudonymise"), model="split-claude", messages=[{"role": "user", "content": TEXT}])
    check_eq(text, TEXT, "chat on the Anthropic upstream, streamed in pieces")
    bodies = upstream_bodies_since(n)
    check_eq(len(bodies), 6, "requests the recording upstream got")
    for b in bodies:
        no_raw(b, "a request body the upstream received")
        check(PSEUDONYMISED in b, f"the upstream did not get the pseudonymised text: {b[:400]}")
    check_eq(json.loads(bodies[2]).get("system"), "For [EMAIL_1]", "the Anthropic upstream's system")


@test
def test_pseudonymise_a_placeholder_like_tail_is_sent_when_the_stream_ends():
    # "[EMAIL_" could be the start of [EMAIL_1]: held back, then sent as it is before the channel ends.
    for tail in (" see [EMAIL_", " [", " [NAME_1"):
        t = TEXT + tail
        text, _ = openai_stream(oai("pseudonymise"), model="split", messages=[{"role": "user", "content": t}])
        check_eq(text, t, f"OpenAI stream ending in {tail!r}")
        pieces, final, _ = anthropic_stream(claude("pseudonymise"), model="split-claude", max_tokens=1000, messages=[{"role": "user", "content": t}])
        check_eq((pieces, final), (t, t), f"Anthropic stream ending in {tail!r}")


@test
def test_pseudonymise_a_literal_placeholder_in_the_clients_text_comes_back_as_the_value():
    # The documented limit (docs/guardrails.md): placeholders are plain text, so the client's own "[EMAIL_1]" is
    # sent as it is and, in the answer, restored like the gateway's.
    t = f"My address is {VALUES['email']}; the template field is [EMAIL_1]."
    answer = oai("pseudonymise").chat.completions.create(model="chat", messages=[{"role": "user", "content": t}])
    check_eq(answer.choices[0].message.content, t.replace("[EMAIL_1]", VALUES["email"]), "the answer")


# --------------------------------------------------------------------------------------------------------------
# Redact
# --------------------------------------------------------------------------------------------------------------

@test
def test_redact_chat_whole_and_streamed():
    raw = oai("redact").chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": TEXT}])
    check_eq(raw.parse().choices[0].message.content, REDACTED, "the answer keeps the typed placeholders")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("redact"), "x-switchboard-guardrails")
    rec = upstream_saw(raw.headers["x-request-id"], [f"[{LABEL[k]}]" for k in KINDS])
    check_eq(json.loads(rec["request_body"])["messages"][0]["content"], REDACTED, "what went upstream")
    text, headers = openai_stream(oai("redact"), model="split", messages=[{"role": "user", "content": TEXT}])
    check_eq(text, REDACTED, "streamed")
    check_eq(headers.get("x-switchboard-guardrails"), header_for("redact"), "x-switchboard-guardrails (stream)")
    upstream_saw(headers["x-request-id"], [f"[{LABEL[k]}]" for k in KINDS])
    no_raw(text, "the streamed answer")


@test
def test_redact_anthropic_whole_and_streamed_system_included():
    system = f"Escalations: {VALUES['phone']}"
    raw = claude("redact").messages.with_raw_response.create(model="claude", max_tokens=1000, system=system,
                                                             messages=[{"role": "user", "content": TEXT}])
    check_eq(raw.parse().content[0].text, REDACTED, "the answer")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("redact"), "x-switchboard-guardrails")
    rec = upstream_saw(raw.headers["x-request-id"], ["[EMAIL]", "[CARD]"])
    check_eq(json.loads(rec["request_body"])["system"], "Escalations: [PHONE]", "system upstream")
    pieces, final, headers = anthropic_stream(claude("redact"), model="split-claude", max_tokens=1000,
                                              system=[{"type": "text", "text": system}], messages=[{"role": "user", "content": TEXT}])
    check_eq((pieces, final), (REDACTED, REDACTED), "streamed")
    rec = upstream_saw(headers["x-request-id"], ["[PHONE]", "[SSN]"])
    check_eq(json.loads(rec["request_body"])["system"][0]["text"], "Escalations: [PHONE]", "system block upstream")


@test
def test_redact_embeddings_inputs():
    raw = oai("pseudonymise").embeddings.with_raw_response.create(model="emb", input=["plain words", TEXT])
    data = raw.parse().data
    check_eq(len(data), 2, "embeddings returned")
    check(all(len(d.embedding) > 0 for d in data), "empty embedding")
    check_eq(raw.headers.get("x-switchboard-guardrails"), header_for("redact"), "x-switchboard-guardrails (the model's policy)")
    rec = upstream_saw(raw.headers["x-request-id"], [f"[{LABEL[k]}]" for k in KINDS])
    check_eq(json.loads(rec["request_body"])["input"], ["plain words", REDACTED], "the inputs that went upstream")
    one = oai("pseudonymise").embeddings.with_raw_response.create(model="emb", input=f"ping {VALUES['ip']}")
    check_eq(one.headers.get("x-switchboard-guardrails"), "pii=redact:ip", "a single string input")
    check_eq(json.loads(logged(one.headers["x-request-id"])["request_body"])["input"], "ping [IP]", "single input upstream")


# --------------------------------------------------------------------------------------------------------------
# Block
# --------------------------------------------------------------------------------------------------------------

def blocked_openai(call) -> None:
    global BLOCKS
    try:
        call()
    except openai.BadRequestError as e:
        BLOCKS += 1
        check_eq(e.status_code, 400, "status")
        check_eq(e.code, "pii_detected", "error code")
        check_eq(e.type, "invalid_request_error", "error type")
        check(", ".join(KINDS) in e.message and "no-pii" in e.message, f"the message names the kinds and the policy: {e.message}")
        no_raw(json.dumps(e.body), "the error body")
        rec = logged(e.response.headers["x-request-id"])
        check_eq((rec["status"], rec["error_code"]), (400, "pii_detected"), "the request log's status and code")
        no_raw(rec["request_body"], "the refused request's logged body")
        check("[EMAIL]" in rec["request_body"], f"the refused request is logged redacted: {rec['request_body'][:300]}")
    else:
        raise AssertionError("no openai.BadRequestError")


def blocked_anthropic(call) -> None:
    global BLOCKS
    try:
        call()
    except anthropic.BadRequestError as e:
        BLOCKS += 1
        check_eq(e.status_code, 400, "status")
        check(isinstance(e.body, dict) and e.body.get("type") == "error", f"Anthropic error shape: {e.body!r}")
        check_eq(e.body["error"]["type"], "invalid_request_error", "error type")
        check(", ".join(KINDS) in e.body["error"]["message"], f"the message names the kinds: {e.body}")
        no_raw(json.dumps(e.body), "the error body")
        rec = logged(e.response.headers["x-request-id"])
        check_eq((rec["status"], rec["error_code"]), (400, "pii_detected"), "the request log's status and code")
        no_raw(rec["request_body"], "the refused request's logged body")
    else:
        raise AssertionError("no anthropic.BadRequestError")


@test
def test_block_chat_whole_and_streamed():
    n = upstream_count()
    c = oai("block")
    blocked_openai(lambda: c.chat.completions.create(model="chat", messages=[{"role": "user", "content": TEXT}]))
    blocked_openai(lambda: c.chat.completions.create(model="split", messages=[{"role": "user", "content": TEXT}], stream=True))
    check_eq(upstream_count(), n, "requests that reached the recording upstream")
    # A clean request from the same key goes through, with no guardrails header.
    raw = c.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "nothing personal"}])
    check_eq(raw.parse().choices[0].message.content, "nothing personal", "a clean request's echo")
    check_eq(raw.headers.get("x-switchboard-guardrails"), None, "x-switchboard-guardrails on a clean request")


@test
def test_block_anthropic_whole_and_streamed_system_alone_is_enough():
    c = claude("block")
    blocked_anthropic(lambda: c.messages.create(model="claude", max_tokens=100, messages=[{"role": "user", "content": TEXT}]))

    def streamed() -> None:
        with c.messages.stream(model="split-claude", max_tokens=100, messages=[{"role": "user", "content": TEXT}]) as s:
            "".join(s.text_stream)
    blocked_anthropic(streamed)
    # A value in the system prompt alone is refused too.
    try:
        c.messages.create(model="claude", max_tokens=100, system=f"Card on file: {VALUES['card']}",
                          messages=[{"role": "user", "content": "What is on file?"}])
        raise AssertionError("a card in the system prompt went through")
    except anthropic.BadRequestError as e:
        global BLOCKS
        BLOCKS += 1
        check("(card)" in e.body["error"]["message"], f"names the card: {e.body}")
        no_raw(json.dumps(e.body), "the error body")


@test
def test_block_embeddings():
    blocked_openai(lambda: oai("block").embeddings.create(model="emb", input=[TEXT]))


# --------------------------------------------------------------------------------------------------------------
# Telemetry
# --------------------------------------------------------------------------------------------------------------

@test
def test_metric_counts_each_block():
    check(BLOCKS > 0, "no block test ran before this one")
    check_eq(refused_pii(), float(BLOCKS), 'switchboard_refused_total{reason="pii_detected"}')
    before = refused_pii()
    oai("redact").chat.completions.create(model="chat", messages=[{"role": "user", "content": TEXT}])
    check_eq(refused_pii(), before, "a redacted request is not a refusal")


@test
def test_gateway_log_holds_kinds_never_values():
    with open(GW_ERR, errors="replace") as f:
        log = f.read()
    no_raw(log, "the gateway's log")
    check("guardrail pii" in log and "kinds=" in log, "no `guardrail pii` line with the kinds in the log (LOG_LEVEL=info)")


@test
def test_gateway_exits_0_on_sigterm():
    stop_processes(procs)
    check_eq(procs[0].returncode, 0, "the gateway's exit status on SIGTERM")


# --------------------------------------------------------------------------------------------------------------

try:
    env = dict(os.environ, LOG_LEVEL="info", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    check_proc = subprocess.run([args.bin, "check", "--config", CFG], capture_output=True, text=True, timeout=30, env=env)
    runner.setup("switchboard check accepts the config", check_proc.returncode == 0, check_proc.stdout + check_proc.stderr)
    with open(os.path.join(args.work, "gateway.out.log"), "wb") as out, open(GW_ERR, "wb") as err:
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
