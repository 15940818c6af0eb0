/// The dashboard at `/ui`: one page of plain HTML, CSS and JavaScript served from the binary. It holds no data
/// itself: it asks for an admin key, keeps it in the tab's session storage, and polls the admin API every 2 s
/// (`/admin/analytics`, `/admin/health`, `/admin/logs`), drawing its charts as SVG.
enum Dashboard {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard</title>
<style>
  :root { --bg: #0f1419; --panel: #171e26; --line: #2a3441; --text: #d9e1ea; --dim: #8a97a6; --ok: #4cc38a; --bad: #e5534b; --warn: #d6a23a; --accent: #5aa9e6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .status { color: var(--dim); margin-left: auto; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; }
  td.num, th.num { text-align: right; }
  .state-closed { color: var(--ok); } .state-open, .state-down { color: var(--bad); } .state-half_open, .state-cooling_down { color: var(--warn); }
  .s2 { color: var(--ok); } .s4 { color: var(--warn); } .s5 { color: var(--bad); }
  svg { width: 100%; height: 140px; display: block; }
  .legend span { margin-right: 12px; font-size: 12px; }
  form#login { max-width: 420px; margin: 80px auto; background: var(--panel); padding: 20px; border-radius: 8px; border: 1px solid var(--line); }
  input, select, button { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; font: inherit; }
  button { cursor: pointer; }
  .filters { display: flex; gap: 8px; margin-bottom: 8px; }
  .error { color: var(--bad); }
</style>
</head>
<body>
<header><h1>Switchboard</h1><span id="summary"></span><span class="status" id="status">not connected</span>
  <button id="logout" hidden>Forget key</button></header>
<form id="login" hidden>
  <h2>Admin key</h2>
  <p>The dashboard reads the admin API with a key that has the <code>admin</code> role (or the master key). It stays in
  this tab only.</p>
  <input id="key" type="password" placeholder="sk-…" style="width:100%" autocomplete="off">
  <p><button type="submit">Open</button> <span class="error" id="loginError"></span></p>
</form>
<main id="board" hidden>
  <section><h2>Requests per minute, by model (last 30 min)</h2><svg id="chartRate" data-series="requests"></svg><div class="legend" id="legendRate"></div></section>
  <section><h2>p95 latency (ms), by model</h2><svg id="chartLatency" data-series="p95_latency_ms"></svg><div class="legend" id="legendLatency"></div></section>
  <section><h2>Errors per minute, by model</h2><svg id="chartErrors" data-series="errors"></svg><div class="legend" id="legendErrors"></div></section>
  <section><h2>Cost (USD) per minute, by model</h2><svg id="chartCost" data-series="cost_usd"></svg><div class="legend" id="legendCost"></div></section>
  <section><h2>By model (last 30 min)</h2><table id="models"></table></section>
  <section><h2>By provider (last 30 min)</h2><table id="providers"></table></section>
  <section><h2>Provider health</h2><table id="health"></table></section>
  <section><h2>Top keys by spend (last 24 h)</h2><table id="keys"></table></section>
  <section class="wide"><h2>Request log</h2>
    <div class="filters"><input id="fModel" placeholder="model"><select id="fStatus"><option value="">any status</option><option>2xx</option><option>4xx</option><option>5xx</option><option>429</option></select></div>
    <table id="log"></table></section>
</main>
<script>
"use strict";
const colors = ["#5aa9e6", "#4cc38a", "#d6a23a", "#e5534b", "#b07be6", "#5fd3c9", "#e07fb0", "#9aa5b1"];
const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("switchboard-admin-key");

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function fmt(n, d = 0) { return Number(n ?? 0).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d }); }
function usd(n) { return "$" + Number(n ?? 0).toFixed(n >= 1 ? 2 : 6); }

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + key } });
  if (r.status === 401 || r.status === 403) { throw new Error("auth"); }
  if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
  return r.json();
}

function table(el, head, rows) {
  el.innerHTML = "<tr>" + head.map((h) => `<th class="${h.num ? "num" : ""}">${esc(h.t)}</th>`).join("") + "</tr>" +
    (rows.length ? rows.map((r) => "<tr>" + r.map((c, i) => `<td class="${head[i].num ? "num" : ""} ${c && c.cls ? c.cls : ""}">${esc(c && c.v !== undefined ? c.v : c)}</td>`).join("") + "</tr>").join("")
                 : `<tr><td colspan="${head.length}" style="color:var(--dim)">no data yet</td></tr>`);
}

// A line per group over minute buckets, as SVG polylines with a y-axis maximum label.
function chart(svg, legend, rows, field, from, to) {
  const groups = [...new Set(rows.map((r) => r.group))].sort();
  const minutes = Math.max(1, Math.round((to - from) / 60));
  const W = 600, H = 140, P = 4;
  let max = 0;
  const series = groups.map((g) => {
    const pts = new Array(minutes).fill(0);
    for (const r of rows) {
      if (r.group !== g || !r.bucket) continue;
      const i = Math.floor((Date.parse(r.bucket) / 1000 - from) / 60);
      if (i >= 0 && i < minutes) pts[i] = Number(r[field] ?? 0);
    }
    max = Math.max(max, ...pts);
    return pts;
  });
  const y = (v) => H - P - (max > 0 ? (v / max) * (H - 2 * P) : 0);
  const x = (i) => P + (i / Math.max(1, minutes - 1)) * (W - 2 * P);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.innerHTML = `<line x1="0" y1="${H - P}" x2="${W}" y2="${H - P}" stroke="#2a3441"/>` +
    series.map((pts, k) => `<polyline fill="none" stroke-width="2" stroke="${colors[k % colors.length]}" data-group="${esc(groups[k])}" points="${pts.map((v, i) => x(i) + "," + y(v)).join(" ")}"/>`).join("") +
    `<text x="${W - 4}" y="14" fill="#8a97a6" font-size="12" text-anchor="end" data-max="${max}">${esc(fmt(max, field === "cost_usd" ? 6 : 0))}</text>`;
  legend.innerHTML = groups.map((g, k) => `<span style="color:${colors[k % colors.length]}">■ ${esc(g)}</span>`).join("");
}

async function refresh() {
  const now = Math.floor(Date.now() / 1000), from = now - 30 * 60;
  const [perMinute, byModel, byProvider, byKey, health] = await Promise.all([
    api(`/admin/analytics?group_by=model&bucket=minute&from=${from}`),
    api(`/admin/analytics?group_by=model&from=${from}`),
    api(`/admin/analytics?group_by=provider&from=${from}`),
    api(`/admin/analytics?group_by=key&from=${now - 86400}`),
    api("/admin/health"),
  ]);
  chart($("chartRate"), $("legendRate"), perMinute.data, "requests", from, now);
  chart($("chartLatency"), $("legendLatency"), perMinute.data, "p95_latency_ms", from, now);
  chart($("chartErrors"), $("legendErrors"), perMinute.data, "errors", from, now);
  chart($("chartCost"), $("legendCost"), perMinute.data, "cost_usd", from, now);
  const cols = [{ t: "" }, { t: "requests", num: 1 }, { t: "errors", num: 1 }, { t: "p50 ms", num: 1 }, { t: "p95 ms", num: 1 }, { t: "tokens in", num: 1 }, { t: "tokens out", num: 1 }, { t: "cost", num: 1 }];
  const row = (r) => [r.group, fmt(r.requests), { v: fmt(r.errors), cls: r.errors ? "s5" : "" }, fmt(r.p50_latency_ms, 1), fmt(r.p95_latency_ms, 1), fmt(r.prompt_tokens), fmt(r.completion_tokens), usd(r.cost_usd)];
  table($("models"), cols, byModel.data.map(row));
  table($("providers"), cols, byProvider.data.map(row));
  const total = byModel.data.reduce((a, r) => ({ n: a.n + r.requests, c: a.c + r.cost_usd }), { n: 0, c: 0 });
  $("summary").textContent = `${fmt(total.n)} requests, ${usd(total.c)} in the last 30 min`;
  table($("keys"), [{ t: "key" }, { t: "requests", num: 1 }, { t: "cost", num: 1 }],
    byKey.data.sort((a, b) => b.cost_usd - a.cost_usd).slice(0, 10).map((r) => [r.group, fmt(r.requests), usd(r.cost_usd)]));
  const hrows = [];
  for (const m of health.models) for (const d of m.deployments) hrows.push([m.name, d.provider, d.model, { v: d.state, cls: "state-" + d.state }, fmt(d.in_flight ?? 0), d.ewma_ttft_ms == null ? "" : fmt(d.ewma_ttft_ms, 1)]);
  table($("health"), [{ t: "model" }, { t: "provider" }, { t: "deployment" }, { t: "state" }, { t: "in flight", num: 1 }, { t: "ttft ms", num: 1 }], hrows);
  const q = new URLSearchParams({ limit: "50" });
  if ($("fModel").value) q.set("model", $("fModel").value);
  if ($("fStatus").value) q.set("status", $("fStatus").value);
  const log = await api("/admin/logs?" + q);
  table($("log"), [{ t: "time" }, { t: "key" }, { t: "model" }, { t: "provider" }, { t: "status", num: 1 }, { t: "attempts", num: 1 }, { t: "latency ms", num: 1 }, { t: "tokens", num: 1 }, { t: "cost", num: 1 }],
    log.data.map((r) => [r.started_at.replace("T", " ").replace("Z", ""), r.key_name, r.model, r.provider ?? "", { v: r.status, cls: "s" + String(r.status)[0] }, r.attempts, fmt(r.latency_ms, 1), fmt(r.usage.prompt_tokens + r.usage.completion_tokens), usd(r.cost_usd)]));
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

async function loop() {
  try { await refresh(); } catch (e) {
    if (e.message === "auth") { sessionStorage.removeItem("switchboard-admin-key"); key = null; show(); return; }
    $("status").textContent = "error: " + e.message;
  }
  setTimeout(loop, 2000);
}

function show() {
  $("login").hidden = !!key; $("board").hidden = !key; $("logout").hidden = !key;
  if (key) loop();
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  key = $("key").value.trim();
  try { await api("/admin/health"); sessionStorage.setItem("switchboard-admin-key", key); show(); }
  catch (e) { $("loginError").textContent = e.message === "auth" ? "This key may not read the admin API." : e.message; key = null; }
});
$("logout").addEventListener("click", () => { sessionStorage.removeItem("switchboard-admin-key"); key = null; location.reload(); });
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("key")) { key = params.get("key"); sessionStorage.setItem("switchboard-admin-key", key); history.replaceState(null, "", location.pathname); }
show();
</script>
</body>
</html>
"""#
}
