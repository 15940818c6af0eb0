#!/usr/bin/env python3
"""The dashboard in headless Chromium against a live gateway with known traffic.

    python scripts/e2e/dashboard_test.py --bin .build/debug/switchboard --work /tmp/dash --artifacts .test-artifacts

Starts the embedded demo configuration (`switchboard serve` in a folder of its own), sends a known mix of requests
(demo, demo-fast, and an unknown model), then loads /ui in headless Chromium with the demo's admin key and checks, in
the page as rendered: the summary counts every request, the by-model table shows each model's request count and
errors, the request log lists the requests, the charts have a line per model, and provider health lists both
simulated providers. Saves a screenshot as an artefact. Prints PASS/FAIL lines and `dashboard: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import html.parser
import json
import os
import shutil
import subprocess
import sys

from e2e_lib import Runner, SetupFailed, bearer, free_port, request, stop_processes, wait_http_ok

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--artifacts", required=True, help="where dashboard.png goes")
args = ap.parse_args()
args.bin = os.path.abspath(args.bin)
os.makedirs(args.work, exist_ok=True)
os.makedirs(args.artifacts, exist_ok=True)
runner = Runner("dashboard")
record = runner.record


class Tables(html.parser.HTMLParser):
    """Collects the rows of every table by id, the summary text and the SVG polylines."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.polylines: dict[str, int] = {}
        self.ids: list[str] = []
        self.current: str | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.summary = ""
        self.in_summary = False
        self.svg: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.current = a.get("id")
            self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "span" and a.get("id") == "summary":
            self.in_summary = True
        elif tag == "svg":
            self.svg = a.get("id")
            self.polylines[self.svg] = 0
        elif tag == "polyline" and self.svg:
            self.polylines[self.svg] += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.current:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag == "table":
            self.current = None
        elif tag == "span":
            self.in_summary = False
        elif tag == "svg":
            self.svg = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self.in_summary:
            self.summary += data


chromium = shutil.which("chromium") or shutil.which("chromium-browser")
procs: list[subprocess.Popen] = []
try:
    runner.setup("headless Chromium is installed", chromium is not None, "neither chromium nor chromium-browser on PATH")
    port = free_port()
    procs.append(subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}"], cwd=args.work,
                                  stdout=open(os.path.join(args.work, "out.log"), "w"), stderr=open(os.path.join(args.work, "err.log"), "w")))
    base = f"http://127.0.0.1:{port}"
    runner.setup("demo gateway ready", lambda: wait_http_ok(f"{base}/readyz", timeout=30, alive=lambda: procs[0].poll() is None))
    sent = {"demo": 9, "demo-fast": 5, "no-such-model": 3}

    def traffic() -> None:
        for model, n in sent.items():
            for i in range(n):
                request("POST", f"{base}/v1/chat/completions", headers=bearer("sk-switchboard-demo"),
                        json_body={"model": model, "messages": [{"role": "user", "content": f"dashboard {i}"}]})
    runner.setup(f"known traffic sent ({sent})", traffic)
    total = sum(sent.values())

    def render(flag: str, out: str | None = None) -> str:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1300",
               "--virtual-time-budget=8000", flag]
        if out:
            cmd[-1] = f"{flag}={out}"
        cmd.append(f"{base}/ui#key=sk-switchboard-admin")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return res.stdout

    dom = render("--dump-dom")
    page = Tables()
    page.feed(dom)
    record("data-loaded" in dom, "the page loaded its data with the admin key", f"{len(dom)} bytes of DOM")
    record(page.summary.startswith(f"{total} requests"), "the summary counts every request", repr(page.summary))
    models = {r[0]: r for r in page.tables.get("models", [])[1:]}
    record(models.get("demo", [None, None])[1] == str(sent["demo"]) and models.get("demo-fast", [None, None])[1] == str(sent["demo-fast"]),
           "the by-model table shows each model's requests", json.dumps(page.tables.get("models")))
    record(models.get("no-such-model", [None, None, None])[2] == str(sent["no-such-model"]),
           "the unknown model's requests show as errors", json.dumps(models.get("no-such-model")))
    log_rows = page.tables.get("log", [])[1:]
    record(len(log_rows) == total, "the request log lists every request", f"{len(log_rows)} rows")
    record(page.polylines.get("chartRate") == 3, "the request-rate chart has a line per model", json.dumps(page.polylines))
    providers = {r[1] for r in page.tables.get("health", [])[1:]}
    record({"sim-fast", "sim-cheap"} <= providers, "provider health lists both simulated providers", json.dumps(sorted(providers)))
    shot = os.path.join(args.artifacts, "dashboard.png")
    render("--screenshot", shot)
    record(os.path.exists(shot) and os.path.getsize(shot) > 10_000, "a screenshot is saved", shot)
except SetupFailed:
    pass  # already reported as a failure
except Exception as e:  # noqa: BLE001
    record(False, "dashboard test ran to the end", f"{type(e).__name__}: {e}")
finally:
    stop_processes(procs)

sys.exit(runner.finish())
