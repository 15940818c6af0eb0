#!/usr/bin/env python3
"""Checks every fenced code block in README.md and docs/*.md against the built binary.

    .venv/bin/python scripts/check_docs.py --bin .build/debug/switchboard --work /tmp/docs-check
    .venv/bin/python scripts/check_docs.py --bin ... --work ... --only routing.md   # blocks whose name contains this

Every block is accounted for: it is checked, compared as sample output, or marked as not runnable with a reason.
A block is classified by its language and by an annotation, an HTML comment on the line just before its fence:

    <!-- docs-check: KIND [as NAME] [with NAME=PATH] [against NAME] [except `TEXT`] [of `COMMAND`] [exact] [serve] (reason) -->

  yaml, no annotation      a Switchboard configuration: with `models:` complete, else a fragment merged into a minimal
                           base; `switchboard check` must pass (env: references get dummy values; cert_file, key_file,
                           client_ca_file and ca_file are made with openssl in the block's folder)
  config / fragment        the same, said explicitly; `serve` also starts it and waits for /readyz (https when TLS)
  invalid                  a configuration `check` must reject (exit 1; no dummy environment variables)
  scenario                 a `switchboard simulate` scenario, run over scenarios/config.yaml
  sh, bash, no annotation  run with bash -euo pipefail in a folder of its own where a demo gateway (`serve` without
  (or `run`)               --config) runs on a free port: `:8080` is replaced by that port, `switchboard` is the binary
                           under test, `swift build …` is not re-run, curl fails on an HTTP error; a `switchboard serve`
                           line runs in the background until the block ends and must exit 0 on SIGTERM
  console                  `$ COMMAND` lines run as above, the lines after each compared with what it printed
  python                   run with the venv's python against the demo gateway
  output [of `COMMAND`]    sample output: compared with what the previous checked block printed (or COMMAND), line by
                           line; numbers may differ unless `exact`; `…` in a line matches anything
  tree                     a layout of the repository: every path in it must exist, and every *.swift file named
                           beside an entry must exist under it
  scrape                   a Prometheus scrape job: /metrics of the demo must answer without a key, in Prometheus text
  skip (reason)            not run; the reason is required and printed

`as NAME` writes the block as NAME (configs and scenarios of the same document are also put into the folder of every
other block of that document); `with NAME=PATH` puts a repository file there as NAME; `against NAME` runs the block
against a gateway serving NAME instead of the demo; `except `TEXT`` leaves out the lines containing TEXT.

Prints PASS/FAIL/SKIP lines and `docs: N passed, M failed, K skipped`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
from e2e_lib import Runner, free_port, request, stop_processes, wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO_ADMIN_KEY = "sk-switchboard-admin"  # Sources/SwitchboardCore/Config/DemoConfig.swift
# The configuration's top-level keys (replaced at start by the list `check` gives for an unknown key).
TOP_LEVEL_KEYS = {"server", "storage", "auth", "providers", "models", "routing", "logging", "tracing", "metrics"}
BASE_CONFIG = {
    "providers": "providers: [ { name: sim, kind: mock } ]\n",
    "models": "models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]\n",
}
CMD_TIMEOUT = 120   # one shell or python block
CHECK_TIMEOUT = 30  # one `switchboard check` or `simulate`
READY_TIMEOUT = 30  # a gateway until /readyz answers


# --------------------------------------------------------------------------------------------------------------
# Blocks and annotations
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Annotation:
    kind: str = ""
    reason: str = ""
    name: str = ""                       # as NAME
    files: dict[str, str] = field(default_factory=dict)  # with NAME=PATH
    against: str = ""                    # against NAME
    excepts: list[str] = field(default_factory=list)     # except `TEXT`
    of: str = ""                         # of `COMMAND`
    exact: bool = False
    serve: bool = False
    line: int = 0


@dataclass
class Block:
    doc: Path
    line: int            # of the opening fence, 1-based
    lang: str
    text: str
    ann: Optional[Annotation]

    @property
    def rel(self) -> str:
        return f"{display(self.doc)}:{self.line}"


ANN_RE = re.compile(r"^\s*<!--\s*docs-check:\s*(.*?)\s*-->\s*$")
KINDS = {"skip", "config", "fragment", "invalid", "scenario", "run", "output", "tree", "scrape"}


def display(doc: Path) -> str:
    return str(doc.relative_to(ROOT)) if doc.is_relative_to(ROOT) else str(doc)


def parse_annotation(body: str, line: int) -> Annotation:
    a = Annotation(line=line)
    m = re.search(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", body)  # the reason: the last parenthesised part
    if m:
        a.reason = m.group(1).strip()
        body = body[:m.start()].strip()
    a.of = _take(r"\bof\s+`([^`]+)`", body)
    body = re.sub(r"\bof\s+`[^`]+`", "", body)
    a.excepts = re.findall(r"\bexcept\s+`([^`]+)`", body)
    body = re.sub(r"\bexcept\s+`[^`]+`", "", body)
    words = body.replace(",", " ").split()
    if not words:
        raise ValueError("empty docs-check annotation")
    a.kind = words[0]
    if a.kind not in KINDS:
        raise ValueError(f"unknown docs-check kind {a.kind!r} (known: {', '.join(sorted(KINDS))})")
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("as", "with", "against") and i + 1 < len(words):
            v = words[i + 1]
            if w == "as":
                a.name = v
            elif w == "against":
                a.against = v
            else:
                if "=" not in v:
                    raise ValueError(f"`with {v}`: expected NAME=PATH")
                k, _, p = v.partition("=")
                a.files[k] = p
            i += 2
            continue
        if w == "exact":
            a.exact = True
        elif w == "serve":
            a.serve = True
        else:
            raise ValueError(f"unknown word {w!r} in docs-check annotation")
        i += 1
    if a.kind == "skip" and not a.reason:
        raise ValueError("`skip` needs a reason in parentheses")
    return a


def _take(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    return m.group(1) if m else ""


def read_blocks(doc: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of one document, and problems found while reading (dangling or unreadable annotations)."""
    lines = doc.read_text().splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    pending: Optional[tuple[int, str]] = None  # an annotation waiting for its fence
    i = 0
    rel = display(doc)
    while i < len(lines):
        line = lines[i]
        m = ANN_RE.match(line)
        if m:
            if pending:
                problems.append(f"{rel}:{pending[0]}: a docs-check annotation not followed by a code block")
            pending = (i + 1, m.group(1))
            i += 1
            continue
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence:
            marker = fence.group(2)
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence
            ann = None
            if pending:
                try:
                    ann = parse_annotation(pending[1], pending[0])
                except ValueError as e:
                    problems.append(f"{rel}:{pending[0]}: {e}")
                    ann = Annotation(kind="invalid-annotation", reason=str(e), line=pending[0])
                pending = None
            blocks.append(Block(doc, start + 1, fence.group(3).lower(), "\n".join(body) + "\n", ann))
            continue
        if pending and line.strip():
            problems.append(f"{rel}:{pending[0]}: a docs-check annotation not followed by a code block")
            pending = None
        i += 1
    if pending:
        problems.append(f"{rel}:{pending[0]}: a docs-check annotation at the end of the document")
    return blocks, problems


def top_level_keys(yaml_text: str) -> list[str]:
    return re.findall(r"^([A-Za-z_][\w-]*)\s*:", yaml_text, re.M)


def classify(b: Block) -> str:
    """The kind of check a block gets, or '' when it cannot be classified without an annotation."""
    if b.ann:
        return b.ann.kind
    if b.lang in ("yaml", "yml"):
        keys = top_level_keys(b.text)
        if keys and set(keys) <= TOP_LEVEL_KEYS:
            return "config" if "models" in keys else "fragment"
        return ""
    if b.lang in ("sh", "bash", "shell", "console"):
        return "run"
    if b.lang in ("python", "py"):
        return "run"
    return ""


# --------------------------------------------------------------------------------------------------------------
# Output comparison
# --------------------------------------------------------------------------------------------------------------

NUMBER = r"[-+]?\d+(?:[.,]\d+)*"


def line_pattern(expected: str, exact: bool) -> re.Pattern:
    parts = expected.rstrip().split("…")
    out = []
    for part in parts:
        if exact:
            out.append(re.escape(part))
            continue
        # numbers may differ; runs of spaces (table columns) may be wider or narrower
        pieces = re.split(f"({NUMBER})", part)
        rx = ""
        for j, piece in enumerate(pieces):
            if j % 2 == 1:
                rx += NUMBER
            else:
                rx += r"\s+".join(re.escape(w) for w in re.split(r"\s{2,}", piece)) if piece else ""
        out.append(rx)
    return re.compile(".*?".join(out))


def compare_output(expected: str, actual: str, exact: bool) -> Optional[str]:
    """None when `actual` matches the sample `expected`, else what differs first."""
    exp = expected.rstrip("\n").split("\n")
    act = [l.rstrip() for l in actual.rstrip("\n").split("\n")]
    for n, e in enumerate(exp):
        if n >= len(act):
            return f"line {n + 1}: expected {e!r}, the output ended after {len(act)} line(s)"
        if not line_pattern(e, exact).fullmatch(act[n]):
            return f"line {n + 1}: expected {e.rstrip()!r}, got {act[n]!r}"
    if len(act) > len(exp):
        return f"the output has {len(act) - len(exp)} more line(s) than the sample, from {act[len(exp)]!r}"
    return None


# --------------------------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------------------------

class Failed(Exception):
    pass


class Checker:
    def __init__(self, args: argparse.Namespace, runner: Runner):
        self.bin = Path(args.bin).resolve()
        self.work = Path(args.work).resolve()
        self.python = args.python
        self.runner = runner
        self.procs: list[subprocess.Popen] = []
        self.work.mkdir(parents=True, exist_ok=True)
        self.bindir = self.work / "bin"
        self.bindir.mkdir(exist_ok=True)
        link = self.bindir / "switchboard"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.bin)
        self.env_dummies: dict[str, str] = {}
        self.learn_top_level_keys()
        self.named: dict[str, Block] = {}   # `as NAME` configs and scenarios of the document being checked
        self.last_output: Optional[str] = None  # what the previous checked block printed

    def learn_top_level_keys(self) -> None:
        """The top-level keys the binary knows, from `check` on a file with an unknown one: a new section of the
        configuration is recognised in the docs without a change here."""
        probe = self.work / "top-level-probe.yaml"
        probe.write_text("docs_check_probe: 1\n")
        r = subprocess.run([str(self.bin), "check", "--config", str(probe)], capture_output=True, text=True,
                           timeout=CHECK_TIMEOUT)
        m = re.search(r"\(allowed: ([a-z_, ]+)\)", r.stdout + r.stderr)
        if m:
            TOP_LEVEL_KEYS.clear()
            TOP_LEVEL_KEYS.update(k.strip() for k in m.group(1).split(","))

    # -- environment ---------------------------------------------------------------------------------------------

    def collect_env(self, blocks: list[Block]) -> None:
        for b in blocks:
            for name in re.findall(r"env:([A-Z_][A-Z0-9_]*)", b.text):
                self.env_dummies.setdefault(name, self.dummy(name))
        for name in ("SWITCHBOARD_MASTER_KEY", "SWITCHBOARD_ENCRYPTION_KEY"):
            self.env_dummies.setdefault(name, self.dummy(name))

    @staticmethod
    def dummy(name: str) -> str:
        if name == "SWITCHBOARD_MASTER_KEY":
            return DEMO_ADMIN_KEY  # so `Authorization: Bearer sk-switchboard-admin` works on every gateway here
        if "ENCRYPTION_KEY" in name:
            return base64.b64encode(os.urandom(32)).decode()
        if "DATABASE_URL" in name:
            return "postgres://switchboard:secret@db.internal:5432/switchboard"
        return "sk-docs-check-" + name.lower().replace("_", "-")

    def env(self, dummies: bool = True) -> dict[str, str]:
        e = dict(os.environ)
        for k in list(e):
            if k in self.env_dummies or k.startswith(("OPENAI_", "ANTHROPIC_")):
                del e[k]
        if dummies:
            e.update(self.env_dummies)
        e["PATH"] = f"{self.bindir}:{e.get('PATH', '/usr/bin:/bin')}"
        e["NO_PROXY"] = e["no_proxy"] = "127.0.0.1,localhost"
        e["PYTHONUNBUFFERED"] = "1"
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        return e

    # -- folders -------------------------------------------------------------------------------------------------

    def folder(self, b: Block, provide: bool = True) -> Path:
        d = self.work / f"{b.doc.stem}-{b.line}"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for name in ("examples", "scenarios"):
            (d / name).symlink_to(ROOT / name)
        if provide:
            for name, nb in self.named.items():
                if nb is not b:
                    (d / name).write_text(self.config_text(nb, d))
            if b.ann:
                for name, path in b.ann.files.items():
                    src = ROOT / path
                    if not src.is_file():
                        raise Failed(f"`with {name}={path}`: no such file in the repository")
                    (d / name).write_text(src.read_text())
        return d

    def config_text(self, b: Block, d: Path) -> str:
        """A config block as a file: fragments merged into the base, TLS files made in `d`."""
        text = b.text
        kind = classify(b)
        if kind == "fragment":
            keys = set(top_level_keys(text))
            text = text + "".join(v for k, v in BASE_CONFIG.items() if k not in keys)
        if kind in ("config", "fragment", "invalid"):
            text = self.make_tls_files(text, d)
        return text

    def make_tls_files(self, text: str, d: Path) -> str:
        """Re-roots cert_file/key_file/client_ca_file (and a provider's ca_file) into `d` and makes them with openssl:
        a CA, a server certificate for localhost and 127.0.0.1 signed by it, and a client certificate (ca.pem,
        client.pem/.key)."""
        refs = re.findall(r"\b(cert_file|key_file|client_ca_file|ca_file):\s*(\"?)([^\s\",}]+)\2", text)
        if not refs:
            return text
        tls = d / "tls"
        if not (tls / "server.pem").exists():
            tls.mkdir(exist_ok=True)
            self.openssl_certs(tls)
        made = {"cert_file": tls / "server.pem", "key_file": tls / "server.key", "client_ca_file": tls / "ca.pem",
                "ca_file": tls / "ca.pem"}
        for key, quote, path in refs:
            text = text.replace(f"{key}: {quote}{path}{quote}", f'{key}: "{made[key]}"')
        return text

    @staticmethod
    def openssl_certs(tls: Path) -> None:
        def run(*args: str) -> None:
            r = subprocess.run(["openssl", *args], cwd=tls, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise Failed(f"openssl {args[0]} failed: {r.stderr.strip()[-300:]}")
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=docs-check CA",
            "-keyout", "ca.key", "-out", "ca.pem")
        (tls / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        for who, subj, ext in (("server", "/CN=localhost", ["-extfile", "server.ext"]), ("client", "/CN=docs-client", [])):
            run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", f"{who}.key", "-out", f"{who}.csr")
            run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-out", f"{who}.pem", *ext)

    # -- processes -----------------------------------------------------------------------------------------------

    def start(self, argv: list[str], cwd: Path, log: str, env: dict[str, str]) -> subprocess.Popen:
        with open(cwd / f"{log}.out.log", "wb") as out, open(cwd / f"{log}.err.log", "wb") as err:
            p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=True)
        self.procs.append(p)
        return p

    def wait_ready(self, p: subprocess.Popen, port: int, cwd: Path, log: str, tls: Optional[Path] = None) -> None:
        scheme = "https" if tls else "http"
        url = f"{scheme}://127.0.0.1:{port}/readyz"
        ctx = None
        if tls:
            ctx = ssl.create_default_context(cafile=str(tls / "ca.pem"))
            ctx.load_cert_chain(str(tls / "client.pem"), str(tls / "client.key"))

        def ready() -> bool:
            if tls:
                with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                    return r.status == 200
            return request("GET", url, timeout=2).status == 200
        try:
            wait_until(ready, READY_TIMEOUT, f"{url} to answer 200", interval=0.1, alive=lambda: p.poll() is None)
        except AssertionError as e:
            raise Failed(f"{e}; stderr: {self.tail(cwd / f'{log}.err.log')}") from None

    def stop(self, p: subprocess.Popen) -> int:
        stop_processes([p], timeout=15)
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    @staticmethod
    def tail(path: Path, n: int = 3) -> str:
        try:
            lines = [l for l in path.read_text(errors="replace").splitlines() if l.strip()]
        except OSError:
            return "(no log)"
        return " | ".join(lines[-n:]) or "(empty)"

    def gateway(self, cwd: Path, config: Optional[str] = None) -> tuple[subprocess.Popen, int]:
        """The demo (or `config`) on a free port in `cwd`, ready."""
        port = free_port()
        argv = [str(self.bin), "serve", "--listen", f"127.0.0.1:{port}"]
        if config:
            argv += ["--config", config]
        p = self.start(argv, cwd, "gateway", self.env())
        self.wait_ready(p, port, cwd, "gateway")
        return p, port

    # -- block kinds ---------------------------------------------------------------------------------------------

    def check_config(self, b: Block, kind: str) -> str:
        d = self.folder(b, provide=False)
        name = (b.ann.name if b.ann and b.ann.name else "config.yaml")
        (d / name).write_text(self.config_text(b, d))
        invalid = kind == "invalid"
        r = subprocess.run([str(self.bin), "check", "--config", name], cwd=d, env=self.env(dummies=not invalid),
                           capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        output = r.stdout + r.stderr
        if invalid:
            if r.returncode != 1:
                raise Failed(f"`check` should reject it (exit 1), got exit {r.returncode}: {output.strip()[:300]}")
            self.last_output = output
            return f"check rejects it ({output.strip().splitlines()[0] if output.strip() else 'no output'})"
        if r.returncode != 0:
            raise Failed(f"`check` exit {r.returncode}: {output.strip()[:600]}")
        self.last_output = output
        what = "complete config" if kind == "config" else "fragment in the base config"
        if b.ann and b.ann.serve:
            port = free_port()
            tls = d / "tls" if (d / "tls" / "ca.pem").exists() else None
            p = self.start([str(self.bin), "serve", "--config", name, "--listen", f"127.0.0.1:{port}"], d, "serve",
                           self.env())
            try:
                self.wait_ready(p, port, d, "serve", tls)
            finally:
                rc = self.stop(p)
            if rc != 0:
                raise Failed(f"serve exited {rc} on SIGTERM: {self.tail(d / 'serve.err.log')}")
            what += ", served" + (" over TLS" if tls else "")
        return f"{what}: {output.strip().splitlines()[0] if output.strip() else ''}"

    def check_scenario(self, b: Block) -> str:
        d = self.folder(b, provide=False)
        name = b.ann.name or "scenario.yaml"
        (d / name).write_text(b.text)
        config = next(iter(b.ann.files), None) if b.ann.files else None
        if config:
            (d / config).write_text((ROOT / b.ann.files[config]).read_text())
        r = subprocess.run([str(self.bin), "simulate", "--config", config or "scenarios/config.yaml", "--scenario", name],
                           cwd=d, env=self.env(), capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        if r.returncode != 0:
            raise Failed(f"simulate exit {r.returncode}: {(r.stdout + r.stderr).strip()[:600]}")
        self.last_output = r.stdout
        return "simulated over " + (config or "scenarios/config.yaml")

    def check_tree(self, b: Block) -> str:
        stack: list[tuple[int, str]] = []  # (indent, path) of the entries that may contain the next one
        checked = 0
        missing: list[str] = []
        current: Optional[Path] = None
        for raw in b.text.splitlines():
            if not raw.strip():
                continue
            indent = len(raw) - len(raw.lstrip())
            first, _, rest = raw.strip().partition("  ")
            is_entry = indent <= 12 and re.fullmatch(r"[\w.+-]+(/[\w.+-]+)*/?", first) is not None
            if is_entry:
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                parent = stack[-1][1] if stack else ""
                path = parent + first
                if first.endswith("/"):
                    stack.append((indent, path))
                current = ROOT / path
                checked += 1
                if not current.exists():
                    missing.append(path)
                desc = rest
            else:
                desc = raw
            # a file named in the description must exist under its entry
            if current is not None and current.is_dir():
                for f in re.findall(r"\b([A-Z][\w+]*\.swift)\b", desc):
                    checked += 1
                    if not list(current.rglob(f)):
                        missing.append(f"{f} (under {current.relative_to(ROOT)})")
        if missing:
            raise Failed("not in the repository: " + ", ".join(missing))
        return f"{checked} paths exist"

    def check_scrape(self, b: Block) -> str:
        d = self.folder(b)
        p, port = self.gateway(d)
        try:
            r = request("GET", f"http://127.0.0.1:{port}/metrics", timeout=10)  # Prometheus: no key, path /metrics
        finally:
            self.stop(p)
        if r.status != 200:
            raise Failed(f"GET /metrics without a key: HTTP {r.status}")
        ctype = r.headers.get("content-type", "")
        if not ctype.startswith("text/plain") or b"# TYPE switchboard_" not in r.body:
            raise Failed(f"/metrics is not Prometheus text ({ctype}): {r.body[:200]!r}")
        if "metrics_path" in b.text:
            raise Failed("the job sets metrics_path: check it names /metrics")
        return "the demo's /metrics answers Prometheus text without a key"

    # shell ---------------------------------------------------------------------------------------------------

    SERVE_RE = re.compile(r"^\s*(switchboard|\S*\.build/(?:release|debug)/switchboard|swift run(?: -c release)? switchboard)\s+serve\b")

    @staticmethod
    def adapt(text: str, port: int) -> str:
        """The text a reader types, made to run here: the gateway's real port, the binary under test."""
        text = re.sub(r"(?<=[\w.\]]):8080\b", f":{port}", text)
        text = re.sub(r"\bswift run(?: -c release)? switchboard\b", "switchboard", text)
        text = re.sub(r"(?:\$PWD/|\./)?\.build/(?:release|debug)/switchboard\b", "switchboard", text)
        text = re.sub(r"(?m)(^|&&\s*|;\s*)swift build\b[^&;|\n#]*", r"\1true ", text)  # the binary is already built
        return text

    PRELUDE = r"""set -Eeuo pipefail
trap 'if [[ -n ${FUNCNAME[0]-} ]]; then echo "__failed_at: ${BASH_LINENO[0]}" >&2; else echo "__failed_at: $LINENO" >&2; fi' ERR
curl() { command curl --fail-with-body -sS --max-time 30 "$@" || return $?; }
__pids=()
__logs=()
# __serve PORT N COMMAND...: COMMAND in the background (output in serveN.*.log) until /readyz answers on PORT; then
# its start-up output (the banner) is printed once it stops growing.
__serve() {
    local port=$1 n=$2 pid last=-1 size i
    shift 2
    "$@" >"serve$n.out.log" 2>"serve$n.err.log" </dev/null &
    pid=$!
    __pids+=("$pid")
    __logs+=("serve$n.err.log")
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "__serve: \`$*\` exited before 127.0.0.1:$port/readyz answered: $(tail -n 2 "serve$n.err.log")" >&2
            return 1
        fi
        command curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null && break
        sleep 0.1
    done
    ((i < 300)) || { echo "__serve: 127.0.0.1:$port/readyz did not answer 200 within 30 s" >&2; return 1; }
    for ((i = 0; i < 25; i++)); do
        size=$(stat -c %s "serve$n.out.log")
        ((size > 0 && size == last)) && break
        last=$size
        sleep 0.2
    done
    cat "serve$n.out.log"
}
# Every gateway the block started gets SIGTERM and must exit 0 within 15 s.
__stop_all() {
    local j pid rc i
    for j in "${!__pids[@]}"; do
        pid=${__pids[$j]}
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rc=0
        wait "$pid" || rc=$?
        if ((rc != 0)); then
            echo "__failed_at: switchboard serve exited $rc on SIGTERM: $(tail -n 2 "${__logs[$j]}")" >&2
            return 1
        fi
    done
    __pids=()
}
trap 'trap - ERR; for p in ${__pids[@]+"${__pids[@]}"}; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
"""

    def check_run(self, b: Block) -> str:
        lang = b.lang
        text = b.text
        notes = []
        if b.ann:
            for ex in b.ann.excepts:
                if ex not in text:
                    raise Failed(f"`except {ex}`: not in the block")
                text = "\n".join(l if ex not in l else f": not run here: {ex!r}" for l in text.split("\n"))
                notes.append(f"not run: {ex}")
        d = self.folder(b)
        own_serve = lang != "python" and any(self.SERVE_RE.match(l) for l in text.split("\n"))
        needs_gateway = lang == "python" or re.search(r":8080\b|localhost|127\.0\.0\.1|switchboard (keys|teams)", text)
        gw = None
        port = free_port()
        try:
            if not own_serve and needs_gateway:
                config = None
                if b.ann and b.ann.against:
                    if not (d / b.ann.against).exists():
                        raise Failed(f"`against {b.ann.against}`: no block `as {b.ann.against}` in this document")
                    config = b.ann.against
                gw, port = self.gateway(d, config)
            if lang in ("python", "py"):
                out = self.run_python(self.adapt(text, port), d)
            elif lang == "console":
                out = self.run_console(self.adapt(text, port), d)
            else:
                out = self.run_shell(self.adapt(text, port), d)
        finally:
            if gw is not None:
                rc = self.stop(gw)
        if gw is not None and rc != 0:
            raise Failed(f"the gateway exited {rc} on SIGTERM: {self.tail(d / 'gateway.err.log')}")
        self.last_output = out
        if own_serve:
            what = "ran, with the gateway it starts"
        elif gw is not None:
            what = "ran against " + (b.ann.against if b.ann and b.ann.against else "the demo")
        else:
            what = "ran"
        return what + (f" ({'; '.join(notes)})" if notes else "")

    def run_python(self, text: str, d: Path) -> str:
        (d / "example.py").write_text(text)
        r = subprocess.run([self.python, "example.py"], cwd=d, env=self.env(), capture_output=True, text=True,
                           timeout=CMD_TIMEOUT)
        if r.returncode != 0:
            raise Failed(f"python exit {r.returncode}: {r.stderr.strip()[-600:]}")
        return r.stdout

    def bash(self, script: str, d: Path, n: int) -> str:
        path = d / f"part{n}.sh"
        path.write_text(self.PRELUDE + script + "\n__stop_all\n")
        p = subprocess.Popen(["bash", str(path)], cwd=d, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise Failed(f"still running after {CMD_TIMEOUT}s") from None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # anything the block left running
            except ProcessLookupError:
                pass
        (d / f"part{n}.out.log").write_text(out)
        (d / f"part{n}.err.log").write_text(err)
        if p.returncode != 0:
            # the line of the block that failed (a function's failure is reported at the line that called it)
            at = [l.removeprefix("__failed_at: ") for l in err.splitlines() if l.startswith("__failed_at: ")]
            script_lines = path.read_text().split("\n")
            where = ""
            if at and at[0].strip().isdigit() and 0 < int(at[0]) <= len(script_lines):
                where = f" at `{script_lines[int(at[0]) - 1].strip()[:300]}`"
            elif at:
                where = f" ({at[0][:300]})"
            rest = [l for l in err.splitlines() if not l.startswith("__failed_at: ")]
            raise Failed(f"exit {p.returncode}{where}: {' | '.join(rest[-3:])[:400]} {out.strip()[-200:]}")
        return out

    def run_shell(self, text: str, d: Path) -> str:
        """Runs the block with bash; a `switchboard serve` line (with its continuation lines) runs in the background
        until /readyz answers, and gets SIGTERM when the block ends (it must exit 0)."""
        lines = text.rstrip("\n").split("\n")
        script: list[str] = []
        n = 0
        i = 0
        while i < len(lines):
            if self.SERVE_RE.match(lines[i]):
                cmd = [lines[i]]
                while cmd[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd.append(lines[i])
                line = " ".join(c.rstrip().removesuffix("\\") for c in cmd)
                line = re.sub(r"\s+#.*$", "", line).strip().removesuffix("&").strip()
                m = re.search(r"--listen\s+(\S*):(\d+)", line)
                if m:
                    port = int(m.group(2))
                else:
                    port = free_port()
                    line += f" --listen 127.0.0.1:{port}"
                script.append(f"__serve {port} {n} {line}")
                n += 1
            else:
                script.append(lines[i])
            i += 1
        return self.bash("\n".join(script) + "\n", d, 0)

    def run_console(self, text: str, d: Path) -> str:
        """`$ COMMAND` lines run one by one; the lines after each are its expected output (numbers may differ)."""
        steps: list[tuple[str, list[str]]] = []
        for line in text.rstrip("\n").split("\n"):
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
            else:
                raise Failed(f"console block: output before the first `$ ` command: {line!r}")
        out = []
        for n, (cmd, expected) in enumerate(steps):
            got = self.bash(cmd + "\n", d, n)
            if expected:
                diff = compare_output("\n".join(expected), got, exact=False)
                if diff:
                    raise Failed(f"`{cmd}` printed something else: {diff}")
            out.append(got)
        return "".join(out)

    def check_output(self, b: Block) -> str:
        if b.ann and b.ann.of:
            d = self.folder(b)
            cmd = self.adapt(b.ann.of, free_port())
            if self.SERVE_RE.match(cmd):
                actual = self.run_shell(cmd, d)
            else:
                r = subprocess.run(["bash", "-c", cmd], cwd=d, env=self.env(), capture_output=True, text=True,
                                   timeout=CMD_TIMEOUT)
                if r.returncode != 0:
                    raise Failed(f"`{b.ann.of}` exit {r.returncode}: {r.stderr.strip()[-300:]}")
                actual = r.stdout
            source = f"`{b.ann.of}`"
        else:
            if self.last_output is None:
                raise Failed("sample output, but the block before it printed nothing that was checked")
            actual = self.last_output
            source = "the previous block"
        diff = compare_output(b.text, actual, exact=bool(b.ann and b.ann.exact))
        if diff:
            raise Failed(f"stale sample output of {source}: {diff}")
        return f"matches what {source} printed" + (" (exactly)" if b.ann and b.ann.exact else "")

    # -- driver --------------------------------------------------------------------------------------------------

    def check_block(self, b: Block, kind: str) -> str:
        if kind in ("config", "fragment", "invalid"):
            return self.check_config(b, kind)
        if kind == "scenario":
            return self.check_scenario(b)
        if kind == "run":
            return self.check_run(b)
        if kind == "output":
            return self.check_output(b)
        if kind == "tree":
            return self.check_tree(b)
        if kind == "scrape":
            return self.check_scrape(b)
        raise Failed(f"no check for kind {kind!r}")

    def check_document(self, doc: Path, only: list[str]) -> None:
        blocks, problems = read_blocks(doc)
        for p in problems:
            self.runner.record(False, p.split(": ", 1)[0] + " annotation", p.split(": ", 1)[1])
        self.named = {}
        for b in blocks:
            k = classify(b)
            if b.ann and b.ann.name and k in ("config", "fragment", "scenario"):
                self.named[b.ann.name] = b
        self.last_output = None
        for b in blocks:
            kind = classify(b)
            name = f"{b.rel} {b.lang or 'text'} {kind or '?'}"
            if only and not any(o in name for o in only):
                continue
            if kind == "invalid-annotation":
                self.last_output = None
                continue  # already reported
            if not kind:
                self.runner.record(False, name, f"cannot classify a ```{b.lang or ''} block: check it, or mark it with "
                                   "<!-- docs-check: KIND --> (see docs/development.md)")
                self.last_output = None
                continue
            if kind == "skip":
                self.runner.skipped.append(name)
                print(f"SKIP {name}: {b.ann.reason}", flush=True)
                self.last_output = None
                continue
            started = time.monotonic()
            if kind != "output":
                self.last_output = None
            try:
                detail = self.check_block(b, kind)
                ok = True
            except Failed as e:
                detail, ok = str(e), False
            except subprocess.TimeoutExpired as e:
                detail, ok = f"timed out: {e}", False
            except Exception as e:  # noqa: BLE001 - reported as this block's failure
                detail, ok = f"{type(e).__name__}: {e}", False
            if not ok:
                self.last_output = None
            self.runner.record(ok, name, f"{detail} ({time.monotonic() - started:.1f}s)")

    def close(self) -> None:
        stop_processes(self.procs, timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the switchboard binary to check against")
    ap.add_argument("--work", required=True, help="a folder for the blocks' files and logs")
    ap.add_argument("--python", default="", help="python with the openai and anthropic SDKs (default: this one, "
                    "else .venv/bin/python)")
    ap.add_argument("--only", action="append", default=[], help="check only blocks whose name contains this")
    ap.add_argument("docs", nargs="*", help="documents (default: README.md and docs/*.md)")
    args = ap.parse_args()
    if not args.python:
        args.python = sys.executable
        probe = subprocess.run([args.python, "-c", "import openai, anthropic"], capture_output=True)
        if probe.returncode != 0 and (ROOT / ".venv/bin/python").exists():
            args.python = str(ROOT / ".venv/bin/python")
    docs = [Path(p).resolve() for p in args.docs] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

    runner = Runner("docs")
    checker = Checker(args, runner)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        all_blocks = [b for doc in docs for b in read_blocks(doc)[0]]
        checker.collect_env(all_blocks)
        for doc in docs:
            checker.check_document(doc, args.only)
    finally:
        checker.close()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
