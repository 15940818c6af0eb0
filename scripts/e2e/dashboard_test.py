#!/usr/bin/env python3
"""The dashboard in headless Chromium against a live gateway with known traffic.

    python scripts/e2e/dashboard_test.py --bin .build/debug/switchboard --work /tmp/dash --artifacts .test-artifacts

Starts the embedded demo configuration (`switchboard serve` in a folder of its own), makes a managed key named
`ci-pipeline`, sends a known mix of requests (demo and demo-fast, and a model that does not exist), then drives
headless Chromium over the DevTools protocol on a pipe (standard library only) and checks the page as rendered:

- without a key only the key prompt shows (the board is really hidden, not laid out under the prompt);
- an unknown key (401) and a key without the admin role (403), given in `#key=` or typed, each get their own message;
- with the admin key: the summary counts every request; the by-model and by-provider tables and the charts show only
  the models and providers that served requests, the refused ones (the unknown model) as a "refused" row and series;
  the top keys show a managed key by name with its id in the tooltip; the request log lists every request; provider
  health lists both simulated providers;
- every chart has a time axis in local time (the browser is put in Asia/Kathmandu, UTC+5:45, so UTC labels would
  not pass) and a labelled y scale from 0 that covers the data;
- at 1,400 and 1,280 px every table fits its panel; at 390 px (a phone) nothing overflows the page, the summary
  tables fit, and the request log scrolls inside its panel.

Saves screenshots at 1,400 px (dashboard.png) and 390 px (dashboard-phone.png). Prints PASS/FAIL lines and
`dashboard: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

from e2e_lib import Runner, SetupFailed, bearer, free_port, request, stop_processes, wait_http_ok

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--artifacts", required=True, help="where dashboard.png and dashboard-phone.png go")
args = ap.parse_args()
args.bin = os.path.abspath(args.bin)
os.makedirs(args.work, exist_ok=True)
os.makedirs(args.artifacts, exist_ok=True)
runner = Runner("dashboard")
record = runner.record

ADMIN = "sk-switchboard-admin"  # the demo's master key
USER = "sk-switchboard-demo"  # the demo's client key: no admin role
TIMEZONE, UTC_OFFSET = "Asia/Kathmandu", datetime.timedelta(hours=5, minutes=45)


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: commands on the
    child's fd 3, answers and events on its fd 4, each one JSON text ended by a NUL byte). One tab at a time: each
    `open` makes a fresh tab, so session storage starts empty."""

    def __init__(self, binary: str, profile: str, log: str):
        to_child, self.writer = os.pipe()
        self.reader, from_child = os.pipe()

        def wire() -> None:  # in the child, before exec: the pipes become fds 3 and 4
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        with open(log, "w") as out:
            self.proc = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                                          "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=False, preexec_fn=wire)
        os.close(to_child)
        os.close(from_child)
        self.buffer = b""
        self.next_id = 0
        self.session: str | None = None
        self.target: str | None = None
        self.events: list[dict] = []

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.reader], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        text, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(text)

    def call(self, method: str, *, browser: bool = False, timeout: float = 30, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if not browser:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.writer, data):]
        deadline = time.monotonic() + timeout
        while True:
            m = self._message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m["method"] == method and m.get("sessionId") == self.session:
                    return self.events.pop(i)
            m = self._message(deadline)
            if "method" in m:
                self.events.append(m)

    def open(self, url: str, width: int, height: int, mobile: bool = False) -> None:
        """A new tab of `width` x `height` CSS pixels in TIMEZONE, loaded with `url`."""
        if self.target:
            self.call("Target.closeTarget", browser=True, targetId=self.target)
        self.target = self.call("Target.createTarget", browser=True, url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", browser=True, targetId=self.target, flatten=True)["sessionId"]
        self.events.clear()
        self.call("Page.enable")
        self.call("Emulation.setTimezoneOverride", timezoneId=TIMEZONE)
        self.resize(width, height, mobile)
        self.call("Page.navigate", url=url)
        self.event("Page.loadEventFired")

    def resize(self, width: int, height: int, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def evaluate(self, expression: str, timeout: float = 30) -> object:
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"in the page: {r['exceptionDetails'].get('exception', {}).get('description') or r['exceptionDetails']}")
        return r["result"].get("value")

    def until(self, condition: str, timeout_ms: int = 15000) -> bool:
        """Whether `condition` (JavaScript) holds within `timeout_ms`, awaited in the page on its DOM's changes."""
        return bool(self.evaluate(f"""new Promise((resolve) => {{
            const holds = () => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }};
            if (holds()) return resolve(true);
            const watch = new MutationObserver(() => {{ if (holds()) {{ watch.disconnect(); clearTimeout(timer); resolve(true); }} }});
            watch.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
            const timer = setTimeout(() => {{ watch.disconnect(); resolve(holds()); }}, {timeout_ms});
        }})""", timeout=timeout_ms / 1000 + 10))

    def frames(self) -> None:
        """Returns after the page has drawn two frames (a resize's redraw done)."""
        self.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")

    def screenshot(self, path: str, width: int, mobile: bool = False) -> None:
        """The whole page, as tall as its content."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.resize(width, height, mobile)
        self.frames()
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", browser=True, timeout=5)
            except Exception:  # noqa: BLE001 - killed below
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.writer)
        os.close(self.reader)


# What the page shows, read in the page: tables by id (class, texts and tooltips of each body row), charts (series,
# axis ticks, data maximum), panels' layout, the prompt's state.
INSPECT = r"""(() => {
  const shown = (el) => !!el && getComputedStyle(el).display !== "none" && el.getBoundingClientRect().height > 0;
  const tables = {};
  for (const t of document.querySelectorAll("table")) {
    tables[t.id] = [...t.querySelectorAll("tr")].filter((tr) => tr.querySelector("td")).map((tr) => ({
      cls: tr.className,
      cells: [...tr.children].map((td) => td.textContent.trim()),
      titles: [...tr.children].map((td) => [td, ...td.querySelectorAll("[title]")].map((e) => e.title || "").filter(Boolean).join(" | ")),
    }));
  }
  const charts = {};
  for (const svg of document.querySelectorAll("svg.chart")) {
    charts[svg.id] = {
      max: Number(svg.dataset.max), minutes: Number(svg.dataset.minutes), viewBox: svg.getAttribute("viewBox"),
      width: svg.getBoundingClientRect().width,
      series: [...svg.querySelectorAll("path.series")].map((p) => ({ group: p.dataset.group, refused: p.dataset.refused === "true" })),
      x: [...svg.querySelectorAll("text.xtick")].map((t) => ({ t: Number(t.dataset.t), label: t.textContent })),
      y: [...svg.querySelectorAll("text.ytick")].map((t) => ({ v: Number(t.dataset.value), label: t.textContent })),
      legend: svg.parentElement.querySelector(".legend").textContent,
    };
  }
  const panels = [...document.querySelectorAll("main section")].map((s) => {
    // The table against the panel's content box; the box that scrolls it, if any, must lie inside the panel.
    const r = s.getBoundingClientRect(), table = s.querySelector("table"), css = getComputedStyle(s);
    const room = s.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
    let scroller = table;
    while (scroller && scroller !== s.parentElement && !["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
    return { table: table ? table.id : null, left: r.left, right: r.right, room,
             width: table ? table.getBoundingClientRect().width : 0,
             fits: table ? table.getBoundingClientRect().width <= room + 1 : true,
             scrollsInside: !!scroller && scroller !== s.parentElement && scroller.getBoundingClientRect().right <= r.right + 1 };
  });
  const board = document.getElementById("board");
  return {
    auth: document.body.dataset.auth || "", loaded: Number(document.body.dataset.loaded || 0),
    boardDisplay: getComputedStyle(board).display, boardHeight: board.getBoundingClientRect().height,
    loginShown: shown(document.getElementById("login")), message: document.getElementById("loginError").textContent,
    messageShown: shown(document.getElementById("loginError")), summary: document.getElementById("summary").textContent,
    tables, charts, panels, viewport: window.innerWidth, pageWidth: document.documentElement.scrollWidth,
  };
})()"""


def local_hhmm(t: float) -> tuple[int, int]:
    d = datetime.datetime.fromtimestamp(t, datetime.timezone(UTC_OFFSET))
    return d.hour, d.minute


def label_hhmm(label: str) -> tuple[int, int] | None:
    """`14:05`, `02:05 PM` or `2:05 p.m.` as (14, 5)."""
    m = re.search(r"(\d{1,2}):(\d{2})\s*([AaPp])?\.?[Mm]?", label)
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    if m.group(3):
        h = h % 12 + (12 if m.group(3).lower() == "p" else 0)
    return h, mi


def body_rows(view: dict, table: str) -> list[dict]:
    return [r for r in view["tables"].get(table, []) if r["cls"] != "refused"]


def refused_rows(view: dict, table: str) -> list[dict]:
    return [r for r in view["tables"].get(table, []) if r["cls"] == "refused"]


# The openai SDK lives in the test venv (scripts/test.sh makes it); this script itself needs only the standard library.
try:
    import openai  # noqa: F401
    SDK_PYTHON = sys.executable
except ImportError:
    SDK_PYTHON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".venv", "bin", "python")

chromium_bin = shutil.which("chromium") or shutil.which("chromium-browser")
procs: list[subprocess.Popen] = []
browser: Chromium | None = None
try:
    runner.setup("headless Chromium is installed", chromium_bin is not None, "neither chromium nor chromium-browser on PATH")
    port = free_port()
    procs.append(subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}"], cwd=args.work,
                                  stdout=open(os.path.join(args.work, "out.log"), "w"), stderr=open(os.path.join(args.work, "err.log"), "w")))
    base = f"http://127.0.0.1:{port}"
    runner.setup("demo gateway ready", lambda: wait_http_ok(f"{base}/readyz", timeout=30, alive=lambda: procs[0].poll() is None))

    def make_key() -> dict:
        r = request("POST", f"{base}/admin/keys", headers=bearer(ADMIN), json_body={"name": "ci-pipeline"})
        if r.status != 201:
            raise AssertionError(f"HTTP {r.status}: {r.body[:200]!r}")
        return r.json()
    managed = runner.setup("a managed key named ci-pipeline", make_key)
    # (key, model asked for, how many): the managed key sends 2 of demo's requests.
    sent = [(USER, "demo", 7), (managed["key"], "demo", 2), (USER, "demo-fast", 5), (USER, "no-such-model", 3)]

    def traffic() -> None:
        for k, model, n in sent:
            for i in range(n):
                request("POST", f"{base}/v1/chat/completions", headers=bearer(k),
                        json_body={"model": model, "messages": [{"role": "user", "content": f"dashboard {i}"}]})
    runner.setup(f"known traffic sent ({[(m, n) for _, m, n in sent]})", traffic)
    total = sum(n for _, _, n in sent)
    served = {"demo": 9, "demo-fast": 5}
    refused = 3
    browser = Chromium(chromium_bin, os.path.join(args.work, "chromium-profile"), os.path.join(args.work, "chromium.log"))

    # 1. Without a key: the prompt, and nothing of the board.
    browser.open(f"{base}/ui", 1400, 1000)
    browser.until("document.body.dataset.auth")
    view = browser.evaluate(INSPECT)
    record(view["loginShown"] and view["boardDisplay"] == "none" and view["boardHeight"] == 0,
           "without a key only the key prompt shows (the board is hidden, not laid out)",
           f"prompt shown {view['loginShown']}, board display {view['boardDisplay']!r}, height {view['boardHeight']}")

    # 2. Keys that are refused say why: 401 and 403 apart, from #key= and typed.
    for label, k, status, wording in [("an unknown key in #key=", "sk-not-a-key", "401", "does not accept this key"),
                                      ("a key without the admin role in #key=", USER, "403", "no admin role")]:
        browser.open(f"{base}/ui#key={k}", 1400, 1000)
        browser.until("document.body.dataset.auth && document.body.dataset.auth !== 'none'")
        view = browser.evaluate(INSPECT)
        record(view["auth"] == status and wording in view["message"] and view["messageShown"] and view["loginShown"]
               and view["boardDisplay"] == "none", f"{label} is refused with its own message ({status})",
               f"auth {view['auth']!r}, message {view['message']!r}, shown {view['messageShown']}, board {view['boardDisplay']!r}")
    browser.open(f"{base}/ui", 1400, 1000)
    browser.until("document.body.dataset.auth")
    browser.evaluate(f"document.getElementById('key').value = {json.dumps(USER)}; document.querySelector('#login button').click()")
    browser.until("document.body.dataset.auth === '403'")
    view = browser.evaluate(INSPECT)
    record(view["auth"] == "403" and "no admin role" in view["message"] and view["messageShown"],
           "a typed key without the admin role is refused with the same message", repr(view["message"]))

    # 3. The admin key: the data, at 1,400 px.
    browser.open(f"{base}/ui#key={ADMIN}", 1400, 1300)
    loaded = browser.until("Number(document.body.dataset.loaded) >= 1")
    view = browser.evaluate(INSPECT)
    record(loaded and view["boardDisplay"] != "none" and not view["loginShown"],
           "the page loaded its data with the admin key", f"auth {view['auth']!r}, loaded {view['loaded']}")
    record(view["summary"].startswith(f"{total} requests") and f"({refused} refused)" in view["summary"],
           "the summary counts every request and the refused ones", repr(view["summary"]))

    models = {r["cells"][0]: r["cells"][1] for r in body_rows(view, "models")}
    record(models == {m: str(n) for m, n in served.items()}, "the by-model table shows only the models that served requests, with their counts",
           json.dumps(view["tables"].get("models")))
    ref = refused_rows(view, "models")
    record(len(ref) == 1 and ref[0]["cells"][1] == str(refused) and ref[0]["cells"][2] == str(refused) and "model_not_found 3" in ref[0]["cells"][0],
           "the refused requests are a row of their own with their error code, not a model", json.dumps(ref))
    providers = {r["cells"][0]: r["cells"][1] for r in body_rows(view, "providers")}
    record(set(providers) == {"sim-fast", "sim-cheap"} and sum(int(n) for n in providers.values() if n.isdigit()) == sum(served.values())
           and [r["cells"][1] for r in refused_rows(view, "providers")] == [str(refused)],
           "the by-provider table shows the providers that served requests (no 'none'), refusals apart", json.dumps(view["tables"].get("providers")))

    series = {name: sorted((s["group"], s["refused"]) for s in c["series"]) for name, c in view["charts"].items()}
    with_refused = sorted([(m, False) for m in served] + [("refused", True)])
    only_served = sorted((m, False) for m in served)
    record(series == {"chartRate": with_refused, "chartErrors": with_refused, "chartLatency": only_served, "chartCost": only_served},
           "the charts have a line per serving model (and a refused series for counts), none for a name only asked for", json.dumps(series))
    record(all("no-such-model" not in c["legend"] for c in view["charts"].values()), "no chart legend names the unknown model",
           json.dumps({k: c["legend"] for k, c in view["charts"].items()}))

    keys = {r["cells"][0]: r for r in body_rows(view, "keys")}
    ci = keys.get("ci-pipeline")
    record(ci is not None and ci["cells"][1] == "2" and managed["id"] in ci["titles"][0] and not any(managed["id"] == c for r in keys.values() for c in r["cells"]),
           "the top keys show a managed key by its name, its id in the tooltip", json.dumps(view["tables"].get("keys")))
    record(len(view["tables"].get("log", [])) == total, "the request log lists every request", f"{len(view['tables'].get('log', []))} rows")
    health = {r["cells"][1] for r in view["tables"].get("health", [])}
    record({"sim-fast", "sim-cheap"} <= health, "provider health lists both simulated providers", json.dumps(sorted(health)))

    # 4. Axes: local time along x, a labelled scale from 0 up.
    problems = [] if len(view["charts"]) == 4 else [f"charts found: {sorted(view['charts'])}"]
    for name, c in view["charts"].items():
        xs, ys = c["x"], c["y"]
        if len(xs) < 3:
            problems.append(f"{name}: {len(xs)} time ticks")
        for tick in xs:
            if label_hhmm(tick["label"]) != local_hhmm(tick["t"]):
                problems.append(f"{name}: tick {tick['t']} labelled {tick['label']!r}, local time is {local_hhmm(tick['t'])}")
            h, m = local_hhmm(tick["t"])
            if (h * 60 + m) % c["minutes"]:
                problems.append(f"{name}: tick {tick['label']!r} is not on a {c['minutes']}-minute boundary")
        if len({b["t"] - a["t"] for a, b in zip(xs, xs[1:])}) > 1:
            problems.append(f"{name}: time ticks unevenly spaced")
        values = [y["v"] for y in ys]
        steps = {round(b - a, 12) for a, b in zip(values, values[1:])}
        if len(ys) < 2 or values[0] != 0 or len(steps) != 1 or min(steps) <= 0 or values[-1] < c["max"]:
            problems.append(f"{name}: y ticks {values} for a maximum of {c['max']}")
        if not all(re.search(r"\d", y["label"]) for y in ys):
            problems.append(f"{name}: y labels {[y['label'] for y in ys]}")
        if c["viewBox"] != f"0 0 {round(c['width'])} 180":
            problems.append(f"{name}: drawn at {c['viewBox']} for a width of {c['width']} (text would be stretched)")
    record(not problems, "every chart has a local-time axis and a labelled y scale covering its data", "; ".join(problems[:6]) or
           json.dumps({k: {"x": [t["label"] for t in c["x"]], "y": [t["label"] for t in c["y"]]} for k, c in view["charts"].items()}))
    minute = request("GET", f"{base}/admin/analytics?group_by=model&bucket=minute&from={int(time.time()) - 1800}", headers=bearer(ADMIN)).json()["data"]
    most = max(r["requests"] for r in minute)
    rate = view["charts"].get("chartRate", {"max": None, "y": []})
    record(rate["max"] == most and rate["y"] and [y["label"] for y in rate["y"]] == [str(int(y["v"])) for y in rate["y"]],
           "the request-rate scale is in whole requests and reaches the busiest minute", f"busiest {most}, chart max {rate['max']}, ticks {[y['label'] for y in rate['y']]}")

    # 5. Key management in the page: a key made in the form works with the openai SDK until it is revoked in the page.
    def sdk_call(k: str) -> dict:
        """A chat completion with the official openai SDK (in the test venv when this Python lacks it)."""
        code = ("import json, sys, openai\n"
                "c = openai.OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0, timeout=30.0)\n"
                "try:\n"
                "    r = c.chat.completions.create(model='demo', messages=[{'role': 'user', 'content': 'from the console'}])\n"
                "    print(json.dumps({'ok': True, 'content': r.choices[0].message.content}))\n"
                "except openai.AuthenticationError as e:\n"
                "    print(json.dumps({'ok': False, 'auth_error': True, 'status': e.status_code}))\n"
                "except openai.APIError as e:\n"
                "    print(json.dumps({'ok': False, 'auth_error': False, 'status': getattr(e, 'status_code', None), 'error': str(e)}))\n")
        out = subprocess.run([SDK_PYTHON, "-c", code, f"{base}/v1", k], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"the SDK script failed: {out.stderr[-400:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    browser.until("Number(document.body.dataset.keys) >= 1")
    names = browser.evaluate("[...document.querySelectorAll('#keyList tr[data-id]')].map((r) => r.dataset.name)")
    record(names == ["ci-pipeline"], "the keys table lists the managed keys", json.dumps(names))
    fill = """(() => { const set = (id, v) => { document.getElementById(id).value = v; };
      set('kName', %s); set('kModels', %s); set('kRpm', %s); set('kBudget', %s);
      document.getElementById('kCreate').requestSubmit(); })()"""
    browser.evaluate(fill % tuple(json.dumps(v) for v in ("console-bad", "demo", "60", "-3")))
    browser.until("document.getElementById('kError').textContent !== ''")
    err = browser.evaluate("document.getElementById('kError').textContent")
    record("budgets" in err and "HTTP" not in err and browser.evaluate("document.getElementById('kSecret').hidden"),
           "an error from the API is shown in the page with the message of its error body", repr(err))
    browser.evaluate(fill % tuple(json.dumps(v) for v in ("console-made", "demo, demo-fast", "60", "5")))
    browser.until("!document.getElementById('kSecret').hidden && document.getElementById('kSecretText').textContent.startsWith('sk-')"
                  " && document.querySelector('#keyList tr[data-name=\"console-made\"]')")
    secret = browser.evaluate("document.getElementById('kSecretText').textContent")
    note = browser.evaluate("document.getElementById('kSecret').innerText")
    made = browser.evaluate("(() => { const r = document.querySelector('#keyList tr[data-name=\"console-made\"]'); return r && { id: r.dataset.id, status: r.dataset.status, cells: [...r.cells].map((c) => c.innerText) }; })()")
    record(secret.startswith("sk-sb-") and "not be shown again" in note and browser.evaluate("!!document.getElementById('kCopy')"),
           "creating a key in the page shows its secret once, with a Copy button and a note", repr(note[:200]))
    stored = request("GET", f"{base}/admin/keys/{made['id']}", headers=bearer(ADMIN)).json() if made else {}
    record(made is not None and made["status"] == "active" and stored.get("models") == ["demo", "demo-fast"]
           and stored.get("limits") == {"rpm": 60, "budgets": [{"period": "day", "usd": 5.0}]},
           "the new key is in the table, active, with the models, rpm and daily budget from the form", json.dumps([made, stored.get("limits")]))
    first = sdk_call(secret)
    record(first.get("ok") and first.get("content"), "the openai SDK gets a completion with the key made in the page", json.dumps(first))

    browser.evaluate("document.querySelector('#keyList tr[data-name=\"console-made\"] button[data-revoke]').click()")
    asked = browser.until("document.querySelector('#keyList tr[data-name=\"console-made\"] button[data-confirm]')")
    still = request("GET", f"{base}/admin/keys/{made['id']}", headers=bearer(ADMIN)).json().get("status")
    record(asked and still == "active", "Revoke asks for a confirmation in the page first (nothing revoked yet)", f"asked {asked}, status {still!r}")
    browser.evaluate("document.querySelector('#keyList tr[data-name=\"console-made\"] button[data-confirm]').click()")
    revoked = browser.until("document.querySelector('#keyList tr[data-name=\"console-made\"]')?.dataset.status === 'revoked'")
    record(revoked and not browser.evaluate("!!document.querySelector('#keyList tr[data-name=\"console-made\"] button')"),
           "confirming revokes the key and the list shows it revoked", f"revoked {revoked}")
    after = sdk_call(secret)
    record(after.get("auth_error") and after.get("status") == 401, "after revoking, the SDK call fails with 401 (AuthenticationError)", json.dumps(after))
    browser.evaluate("document.getElementById('kFilter').value = 'console'; document.getElementById('kFilter').dispatchEvent(new Event('input'))")
    filtered = browser.evaluate("[...document.querySelectorAll('#keyList tr[data-id]')].map((r) => r.dataset.name)")
    browser.evaluate("document.getElementById('kFilter').value = ''; document.getElementById('kFilter').dispatchEvent(new Event('input'))")
    record(filtered == ["console-made"], "the filter narrows the keys table", json.dumps(filtered))

    browser.call("Page.reload", ignoreCache=True)  # the same tab: its session storage (the admin key) stays
    browser.event("Page.loadEventFired")
    reloaded = browser.until("Number(document.body.dataset.keys) >= 1 && document.querySelector('#keyList tr[data-name=\"console-made\"]')")
    page = browser.evaluate("document.documentElement.outerHTML + document.body.innerText + JSON.stringify(sessionStorage)")
    record(reloaded and secret not in page and secret[:20] not in page and browser.evaluate("document.getElementById('kSecret').hidden"),
           "after a reload the secret is nowhere in the page", f"reloaded {reloaded}, secret in the page {secret in page}")

    # 6. Tables fit their panels on desktop widths and on a phone.
    def layout(width: int) -> dict:
        browser.resize(width, 1300, mobile=width < 600)
        browser.until(f"window.innerWidth === {width}")
        browser.frames()
        return browser.evaluate(INSPECT)

    for width in (1400, 1280):
        v = layout(width)
        bad = [p for p in v["panels"] if p["table"] and not p["fits"]]
        record(not bad and v["pageWidth"] <= width and v["viewport"] == width, f"at {width} px every table fits its panel", json.dumps(bad) or f"page {v['pageWidth']} px")
    shot = os.path.join(args.artifacts, "dashboard.png")
    browser.resize(1400, 1300)
    browser.until("window.innerWidth === 1400")
    browser.frames()
    browser.screenshot(shot, 1400)
    record(os.path.exists(shot) and os.path.getsize(shot) > 10_000, "a screenshot at 1,400 px is saved", shot)

    browser.open(f"{base}/ui#key={ADMIN}", 390, 844, mobile=True)
    browser.until("Number(document.body.dataset.loaded) >= 1")
    v = browser.evaluate(INSPECT)
    outside = [p for p in v["panels"] if p["left"] < 0 or p["right"] > 390.5]
    record(v["viewport"] == 390 and v["pageWidth"] <= 390 and not outside, "at 390 px nothing overflows the page",
           f"page {v['pageWidth']} px in {v['viewport']}, panels outside: {json.dumps(outside)}")
    summary_tables = [p for p in v["panels"] if p["table"] in ("models", "providers", "keys", "health")]
    record(all(p["fits"] for p in summary_tables), "at 390 px the summary tables fit their panels", json.dumps(summary_tables))
    log_panel = next(p for p in v["panels"] if p["table"] == "log")
    record(log_panel["fits"] or log_panel["scrollsInside"], "at 390 px the request log fits or scrolls inside its panel", json.dumps(log_panel))
    shot = os.path.join(args.artifacts, "dashboard-phone.png")
    browser.screenshot(shot, 390, mobile=True)
    record(os.path.exists(shot) and os.path.getsize(shot) > 10_000, "a screenshot at 390 px is saved", shot)
except SetupFailed:
    pass  # already reported as a failure
except Exception as e:  # noqa: BLE001
    record(False, "dashboard test ran to the end", f"{type(e).__name__}: {e}")
finally:
    if browser:
        browser.close()
    stop_processes(procs)

sys.exit(runner.finish())
