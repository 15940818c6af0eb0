extension Dashboard {
    /// The page's script: the key prompt, polling the admin API, the charts and tables, the Keys section.
    static let script = #"""
"use strict";
const colors = ["#5aa9e6", "#4cc38a", "#d6a23a", "#e5534b", "#b07be6", "#5fd3c9", "#e07fb0", "#c9b458"];
const refusedColor = "#9aa5b1";
const storeKey = "switchboard-admin-key";
const $ = (id) => document.getElementById(id);
let key = null;
let drawn = null;

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function fmt(n, d = 0) { return Number(n ?? 0).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d }); }
function usd(n) { n = Number(n ?? 0); return "$" + n.toFixed(n >= 1 ? 2 : 6); }
function codes(counts) { return Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]).map(([c, n]) => c + " " + n).join(", "); }

// 401: the gateway does not know the key; 403: it does, and the key has no admin role.
class AuthError extends Error { constructor(status) { super("HTTP " + status); this.status = status; } }
function authMessage(e) {
  return e.status === 403
    ? "This key has no admin role; the console needs an admin key (a key with the admin role, or the master key)."
    : "The gateway does not accept this key (401: unknown, revoked or expired). Check that it was copied whole.";
}

async function api(path, k = key) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + k }, cache: "no-store" });
  if (r.status === 401 || r.status === 403) { throw new AuthError(r.status); }
  if (!r.ok) { throw new Error(path.split("?")[0] + ": HTTP " + r.status); }
  return r.json();
}

// A column is { t, num, opt } (opt: hidden on narrow screens); a cell a value or { v, cls, title, sub, trunc };
// a row an array of cells or { cls, cells }.
function table(el, head, rows) {
  const cls = (h, extra) => [h.num ? "num" : "", h.opt ? "opt" : "", extra || ""].join(" ").trim();
  const td = (c, h) => {
    const o = c !== null && typeof c === "object" ? c : { v: c };
    let inner = esc(o.v);
    if (o.trunc) inner = `<span class="trunc" title="${esc(o.title ?? o.v)}">${inner}</span>`;
    if (o.sub) inner += `<small class="sub">${esc(o.sub)}</small>`;
    return `<td class="${cls(h, o.cls)}"${o.title ? ` title="${esc(o.title)}"` : ""}>${inner}</td>`;
  };
  el.innerHTML = "<thead><tr>" + head.map((h) => `<th class="${cls(h)}">${esc(h.t)}</th>`).join("") + "</tr></thead><tbody>" +
    (rows.length ? rows.map((r) => Array.isArray(r) ? { cells: r } : r)
                       .map((r) => `<tr class="${esc(r.cls || "")}">` + r.cells.map((c, i) => td(c, head[i])).join("") + "</tr>").join("")
                 : `<tr><td colspan="${head.length}" style="color:var(--dim)">no data yet</td></tr>`) + "</tbody>";
}

// A scale from 0 with about four steps of 1, 2 or 5 times a power of ten.
function niceTicks(max, integer) {
  const raw = max / 4, mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999999);
  if (integer) step = Math.max(1, Math.ceil(step));
  const n = Math.max(1, Math.ceil(max / step - 1e-9));
  return { step, top: n * step, ticks: Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12))) };
}

function yLabel(v, kind, step) {
  if (v === 0) return "0";
  if (kind === "usd") return "$" + v.toFixed(Math.max(0, -Math.floor(Math.log10(step))));
  if (kind === "ms") return v >= 1000 ? fmt(v / 1000, step >= 1000 ? 0 : 1) + " s" : fmt(v) + " ms";
  return fmt(v);
}

// Times on the axis: whole local minutes that are multiples of `minutes` since local midnight.
function timeTicks(start, end, minutes) {
  const out = [];
  for (let t = Math.ceil(start / 60) * 60; t <= end; t += 60) {
    const d = new Date(t * 1000);
    if ((d.getHours() * 60 + d.getMinutes()) % minutes === 0) out.push(t);
  }
  return out;
}

function timeLabel(t, minutes) {
  const d = new Date(t * 1000);
  return minutes >= 1440 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// One chart: a line per model over minute buckets (plus the refused requests when `spec.refused`), a local-time axis
// and a y scale with labelled ticks, drawn at the SVG's own size so the text is not stretched.
function drawChart(spec, rows, from, to, colorOf) {
  const svg = $(spec.id), legend = $(spec.legend);
  const W = Math.round(svg.getBoundingClientRect().width) || 600, H = 180;
  const start = Math.floor(from / 60) * 60, end = Math.floor(to / 60) * 60, n = (end - start) / 60 + 1;
  const series = new Map();
  for (const r of rows) {
    if (r.refused && !spec.refused) continue;
    const name = r.refused ? "refused" : r.group, id = (r.refused ? "1" : "0") + name;
    if (!series.has(id)) series.set(id, { name, refused: !!r.refused, values: new Array(n).fill(spec.kind === "ms" ? null : 0) });
    const i = Math.round((Date.parse(r.bucket) / 1000 - start) / 60);
    if (i >= 0 && i < n) series.get(id).values[i] = Number(r[spec.field] ?? 0);
  }
  const list = [...series.values()].sort((a, b) => (a.refused - b.refused) || (a.name < b.name ? -1 : 1));
  const max = Math.max(0, ...list.flatMap((s) => s.values.filter((v) => v !== null)));
  const scale = niceTicks(max > 0 ? max : { count: 1, ms: 100, usd: 0.001 }[spec.kind], spec.kind === "count");
  const labels = scale.ticks.map((v) => yLabel(v, spec.kind, scale.step));
  const L = 10 + 6.5 * Math.max(...labels.map((l) => l.length)), R = 14, T = 10, B = 24, pw = W - L - R, ph = H - T - B;
  const x = (t) => L + ((t - start) / Math.max(60, end - start)) * pw;
  const y = (v) => T + ph - (v / scale.top) * ph;
  const f = (v) => v.toFixed(1);
  let out = `<g class="axis y">` + scale.ticks.map((v, i) =>
    `<line class="grid" x1="${f(L)}" x2="${f(W - R)}" y1="${f(y(v))}" y2="${f(y(v))}"/>` +
    `<text class="ytick" x="${f(L - 6)}" y="${f(y(v) + 4)}" text-anchor="end" data-value="${v}">${esc(labels[i])}</text>`).join("") + "</g>";
  const minutes = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].find((m) => (end - start) / 60 / m <= Math.max(2, Math.floor(pw / 80))) ?? 1440;
  // A tick closer to the y axis than half a label is left out (its label would run into the scale or the next one).
  out += `<g class="axis x">` + timeTicks(start, end, minutes).filter((t) => x(t) >= L + 28).map((t) => {
    const px = x(t), anchor = px > W - 30 ? "end" : "middle";
    return `<line class="tick" x1="${f(px)}" x2="${f(px)}" y1="${f(T + ph)}" y2="${f(T + ph + 4)}"/>` +
      `<text class="xtick" x="${f(px)}" y="${H - 6}" text-anchor="${anchor}" data-t="${t}">${esc(timeLabel(t, minutes))}</text>`;
  }).join("") + "</g>";
  for (const s of list) {
    const color = s.refused ? refusedColor : colorOf(s.name);
    let d = "", dots = "";
    s.values.forEach((v, i) => {
      if (v === null) return;
      const joined = i > 0 && s.values[i - 1] !== null, alone = !joined && (i + 1 >= n || s.values[i + 1] === null);
      d += (joined ? "L" : "M") + f(x(start + i * 60)) + "," + f(y(v));
      if (alone) dots += `<circle cx="${f(x(start + i * 60))}" cy="${f(y(v))}" r="2.5" fill="${color}"/>`;
    });
    out += `<path class="series" fill="none" stroke-width="2" stroke-linejoin="round" stroke="${color}"${s.refused ? ` stroke-dasharray="5 4"` : ""}` +
      ` data-group="${esc(s.name)}" data-refused="${s.refused}" d="${d}"><title>${esc(s.name)}</title></path>${dots}`;
  }
  if (!list.length) out += `<text x="${f(L + pw / 2)}" y="${f(T + ph / 2)}" text-anchor="middle">no requests in the last 30 min</text>`;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.dataset.max = String(max);
  svg.dataset.minutes = String(minutes);
  svg.innerHTML = out;
  legend.innerHTML = list.map((s) => s.refused
    ? `<span style="color:${refusedColor}" title="requests the gateway answered itself, before trying any provider">┅ refused</span>`
    : `<span style="color:${colorOf(s.name)}">■ ${esc(s.name)}</span>`).join("");
}

const charts = [
  { id: "chartRate", legend: "legendRate", field: "requests", kind: "count", refused: true },
  { id: "chartLatency", legend: "legendLatency", field: "p95_latency_ms", kind: "ms", refused: false },
  { id: "chartErrors", legend: "legendErrors", field: "errors", kind: "count", refused: true },
  { id: "chartCost", legend: "legendCost", field: "cost_usd", kind: "usd", refused: false },
];
function drawCharts() {
  if (!drawn || $("board").hidden) return;
  for (const spec of charts) drawChart(spec, drawn.rows, drawn.from, drawn.to, drawn.colorOf);
}

function when(s) {
  const d = new Date(s * 1000), time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
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
  // A model keeps its colour in every chart.
  const names = [...new Set(byModel.data.concat(perMinute.data).filter((r) => !r.refused).map((r) => r.group))].sort();
  const colorOf = (g) => colors[Math.max(0, names.indexOf(g)) % colors.length];
  drawn = { rows: perMinute.data, from, to: now, colorOf };
  drawCharts();

  const cols = [{ t: "" }, { t: "requests", num: 1 }, { t: "errors", num: 1 }, { t: "p50 ms", num: 1, opt: 1 }, { t: "p95 ms", num: 1 },
                { t: "tokens in", num: 1, opt: 1 }, { t: "tokens out", num: 1, opt: 1 }, { t: "cost", num: 1 }];
  const figures = (r) => [fmt(r.requests), { v: fmt(r.errors), cls: r.errors ? "s5" : "", title: codes(r.error_codes) || undefined },
                          fmt(r.p50_latency_ms, 1), fmt(r.p95_latency_ms, 1), fmt(r.prompt_tokens), fmt(r.completion_tokens), usd(r.cost_usd)];
  const rows = (data) => data.filter((r) => !r.refused).map((r) => [{ v: r.group, trunc: true }, ...figures(r)]).concat(
    data.filter((r) => r.refused).map((r) => ({ cls: "refused", cells: [
      { v: "refused", sub: codes(r.error_codes), title: "answered by the gateway before any provider was tried: " + codes(r.error_codes) }, ...figures(r)] })));
  table($("models"), cols, rows(byModel.data));
  table($("providers"), cols, rows(byProvider.data));
  const total = byModel.data.reduce((a, r) => ({ n: a.n + r.requests, c: a.c + r.cost_usd, refused: a.refused + (r.refused ? r.requests : 0) }), { n: 0, c: 0, refused: 0 });
  $("summary").textContent = `${fmt(total.n)} requests` + (total.refused ? ` (${fmt(total.refused)} refused)` : "") + `, ${usd(total.c)} in the last 30 min`;
  table($("keys"), [{ t: "key" }, { t: "requests", num: 1 }, { t: "errors", num: 1, opt: 1 }, { t: "cost", num: 1 }],
    byKey.data.sort((a, b) => b.cost_usd - a.cost_usd).slice(0, 10).map((r) => {
      const name = r.key_name ?? r.group;
      return [{ v: name, trunc: true, title: name === r.group ? `${name} (a key from the configuration, no id)` : `${name} (id ${r.group})` },
              fmt(r.requests), { v: fmt(r.errors), cls: r.errors ? "s5" : "" }, usd(r.cost_usd)];
    }));
  const hrows = [];
  for (const m of health.models) for (const d of m.deployments) {
    hrows.push([{ v: m.name, trunc: true }, { v: d.provider, trunc: true }, { v: d.model, trunc: true }, { v: d.state, cls: "state-" + d.state },
                fmt(d.in_flight ?? 0), d.ewma_ttft_ms == null ? "" : fmt(d.ewma_ttft_ms, 1)]);
  }
  table($("health"), [{ t: "model" }, { t: "provider" }, { t: "deployment", opt: 1 }, { t: "state" }, { t: "in flight", num: 1, opt: 1 }, { t: "ttft ms", num: 1 }], hrows);
  const q = new URLSearchParams({ limit: "50" });
  if ($("fModel").value) q.set("model", $("fModel").value);
  if ($("fStatus").value) q.set("status", $("fStatus").value);
  const log = await api("/admin/logs?" + q);
  table($("log"), [{ t: "time" }, { t: "key" }, { t: "model" }, { t: "provider", opt: 1 }, { t: "status", num: 1 }, { t: "attempts", num: 1, opt: 1 },
                   { t: "latency ms", num: 1 }, { t: "tokens", num: 1, opt: 1 }, { t: "cost", num: 1 }],
    log.data.map((r) => [{ v: when(r.started_at_s), title: r.started_at }, { v: r.key_name, trunc: true, title: r.key_id ? `${r.key_name} (id ${r.key_id})` : r.key_name },
                         { v: r.model, trunc: true, sub: r.served_model ? "served by " + r.served_model : "" }, { v: r.provider ?? "", trunc: true },
                         { v: r.status, cls: "s" + String(r.status)[0], title: r.error_code ?? undefined }, r.attempts, fmt(r.latency_ms, 1),
                         fmt(r.usage.prompt_tokens + r.usage.completion_tokens), usd(r.cost_usd)]));
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

// Key management: /admin/keys (the list, with revoked keys) and this month's spend per key from /admin/analytics.
// The API's errors are shown as the message of their OpenAI-shaped body.
async function send(method, path, body) {
  const r = await fetch(path, { method, cache: "no-store", headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
                                body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!r.ok) {
    if (r.status === 401) throw new AuthError(r.status);
    throw new Error((data && data.error && data.error.message) || `${method} ${path.split("?")[0]}: HTTP ${r.status}`);
  }
  return data;
}

let keyRows = [], keySpend = {}, confirming = null, keysHTML = "";
async function loadKeys() {
  const d = new Date(), month = Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000);
  const [list, spend] = await Promise.all([send("GET", "/admin/keys?include_revoked=true"),
                                           send("GET", `/admin/analytics?group_by=key&from=${month}`)]);
  keyRows = list.data.sort((a, b) => (a.status === "active" ? 0 : 1) - (b.status === "active" ? 0 : 1) || (a.created_at < b.created_at ? 1 : -1));
  keySpend = Object.fromEntries(spend.data.map((r) => [r.group, r.cost_usd]));
  drawKeys();
}

function drawKeys() {
  const q = $("kFilter").value.trim().toLowerCase();
  const rows = keyRows.filter((k) => !q || [k.name, k.id, k.team, k.status, ...(k.models || [])].some((v) => String(v ?? "").toLowerCase().includes(q)));
  const head = ["name", "team", "models", "status", "spend this month", "created", ""];
  const cls = ["", "opt", "", "", "num", "opt", ""];
  const body = rows.map((k) => {
    const action = k.status !== "active" ? "" : confirming === k.id
      ? `<span>Revoke ${esc(k.name)}?</span> <button type="button" class="danger" data-confirm="${esc(k.id)}">Yes, revoke</button> <button type="button" data-cancel="1">Cancel</button>`
      : `<button type="button" data-revoke="${esc(k.id)}" aria-label="Revoke ${esc(k.name)}">Revoke</button>`;
    const created = Date.parse(k.created_at) / 1000;
    const cells = [`<span class="trunc" title="${esc(k.name)} (id ${esc(k.id)})">${esc(k.name)}</span><small class="sub">${esc(k.key_hint)}</small>`,
                   esc(k.team ?? ""), `<span class="trunc">${esc((k.models || []).length ? k.models.join(", ") : "all")}</span>`,
                   `<span class="status-${esc(k.status)}">${esc(k.status)}</span>`, esc(usd(keySpend[k.id] ?? 0)),
                   `<span title="${esc(k.created_at)}">${esc(isNaN(created) ? "" : when(created))}</span>`, action];
    return `<tr data-id="${esc(k.id)}" data-name="${esc(k.name)}" data-status="${esc(k.status)}">` +
      cells.map((c, i) => `<td class="${cls[i]}">${c}</td>`).join("") + "</tr>";
  }).join("");
  const html = "<thead><tr>" + head.map((h, i) => `<th class="${cls[i]}">${esc(h)}</th>`).join("") + "</tr></thead><tbody>" +
    (body || `<tr><td colspan="${head.length}" style="color:var(--dim)">${keyRows.length ? "no key matches the filter" : "no managed keys yet"}</td></tr>`) + "</tbody>";
  // Redrawn only when something changed, so a focused button keeps its focus between polls.
  if (html !== keysHTML) { keysHTML = html; $("keyList").innerHTML = html; }
  document.body.dataset.keys = String(Number(document.body.dataset.keys || 0) + 1);
}

function keyError(e) {
  if (e instanceof AuthError) { forget(); showLogin("The key stopped working. " + authMessage(e), e.status); return; }
  $("kError").textContent = e.message;
}

$("kCreate").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("kError").textContent = "";
  const spec = { name: $("kName").value.trim() };
  const models = $("kModels").value.split(",").map((m) => m.trim()).filter(Boolean);
  if (models.length) spec.models = models;
  const limits = {}, rpm = $("kRpm").value.trim(), budget = $("kBudget").value.trim();
  if (rpm) limits.rpm = /^-?\d+$/.test(rpm) ? Number(rpm) : rpm;
  if (budget) limits.budgets = [{ period: "day", usd: isNaN(Number(budget)) ? budget : Number(budget) }];
  if (Object.keys(limits).length) spec.limits = limits;
  $("kSubmit").disabled = true;
  try {
    const made = await send("POST", "/admin/keys", spec);
    $("kSecretName").textContent = made.name;
    $("kSecretText").textContent = made.key;
    $("kCopied").textContent = "";
    $("kSecret").hidden = false;
    $("kCreate").reset();
    $("kCopy").focus();
    await loadKeys();
  } catch (e) { keyError(e); } finally { $("kSubmit").disabled = false; }
});
$("kCopy").addEventListener("click", async () => {
  const text = $("kSecretText").textContent;
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    $("kCopied").textContent = "copied";
  } catch (e) {
    const range = document.createRange(); range.selectNodeContents($("kSecretText"));
    const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
    $("kCopied").textContent = "selected: press Ctrl+C (or ⌘C) to copy";
  }
});
$("kDone").addEventListener("click", () => { $("kSecretText").textContent = ""; $("kSecret").hidden = true; $("kName").focus(); });
$("kFilter").addEventListener("input", drawKeys);
$("keyList").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  $("kError").textContent = "";
  if (b.dataset.revoke) { confirming = b.dataset.revoke; drawKeys(); $("keyList").querySelector("button[data-confirm]")?.focus(); return; }
  if (b.dataset.cancel) { const id = confirming; confirming = null; drawKeys(); $("keyList").querySelector(`button[data-revoke="${CSS.escape(id)}"]`)?.focus(); return; }
  if (b.dataset.confirm) {
    b.disabled = true;
    try { await send("POST", `/admin/keys/${encodeURIComponent(b.dataset.confirm)}/revoke`); confirming = null; await loadKeys(); } catch (e) { keyError(e); b.disabled = false; }
  }
});

async function loop() {
  try { await refresh(); await loadKeys(); } catch (e) {
    if (e instanceof AuthError) { forget(); showLogin("The key stopped working. " + authMessage(e), e.status); return; }
    $("status").textContent = "error: " + e.message;
  }
  setTimeout(loop, 2000);
}

function forget() { sessionStorage.removeItem(storeKey); key = null; }

// The board stays hidden until a key has been accepted; the prompt says why a key was not.
function showLogin(message, why) {
  $("board").hidden = true; $("logout").hidden = true; $("login").hidden = false;
  $("loginError").textContent = message || "";
  $("status").textContent = "not connected";
  document.body.dataset.auth = why ? String(why) : "none";
}

async function useKey(k) {
  $("status").textContent = "checking the key…";
  try { await api("/admin/health", k); } catch (e) {
    forget();
    if (e instanceof AuthError) showLogin(authMessage(e), e.status); else showLogin("Could not reach the admin API: " + e.message, "error");
    return;
  }
  key = k; sessionStorage.setItem(storeKey, k);
  $("key").value = ""; $("loginError").textContent = "";
  $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
  document.body.dataset.auth = "ok";
  loop();
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const k = $("key").value.trim();
  if (k) useKey(k); else showLogin("Paste a key first.", "empty");
});
$("logout").addEventListener("click", () => { forget(); location.reload(); });
let resizing = 0;
window.addEventListener("resize", () => { cancelAnimationFrame(resizing); resizing = requestAnimationFrame(drawCharts); });
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) history.replaceState(null, "", location.pathname + location.search);
const initial = fromHash || sessionStorage.getItem(storeKey);
if (initial) useKey(initial); else showLogin("");
"""#
}
