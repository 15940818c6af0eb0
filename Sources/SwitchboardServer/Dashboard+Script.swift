extension Dashboard {
    /// The script's core: formatting, the admin API, tables, the views' navigation (hash state, tab bar) and polling.
    static let coreScript = #"""
"use strict";
const colors = ["#5aa9e6", "#4cc38a", "#d6a23a", "#e5534b", "#b07be6", "#5fd3c9", "#e07fb0", "#c9b458"];
const refusedColor = "#9aa5b1";
const storeKey = "switchboard.console-key";
const $ = (id) => document.getElementById(id);
let key = null;
// What the key may read: "admin" (every view) or "reviewer" (the Reviews view only).
let role = "admin";

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function fmt(n, d = 0) { return Number(n ?? 0).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d }); }
function usd(n) { n = Number(n ?? 0); return "$" + n.toFixed(n >= 1 ? 2 : 6); }
function codes(counts) { return Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]).map(([c, n]) => c + " " + n).join(", "); }
function when(s) {
  const d = new Date(s * 1000), time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
}
// The public model that served a logged request: the fallback's when one answered, else the one asked for; null
// when the gateway refused it before trying any provider.
const servedOf = (x) => (x.provider == null ? null : x.served_model ?? x.model);
const numberOr = (s) => (s !== "" && !isNaN(Number(s)) ? Number(s) : s);
const list = (s) => s.split(",").map((m) => m.trim()).filter(Boolean);

// 401: the gateway does not know the key; 403: it does, and the key has no admin role (nor the reviewer role).
class AuthError extends Error { constructor(status) { super("HTTP " + status); this.status = status; } }
function authMessage(e) {
  return e.status === 403
    ? "This key has no admin role (nor the reviewer role); the console needs an admin key (a key with the admin role, or the master key), or a reviewer key for its Reviews view."
    : "The gateway does not accept this key (401: unknown, revoked or expired). Check that it was copied whole.";
}
// A view a reviewer's key may not read (403): the message in place of the view, and the key kept.
function denied(view) {
  $("view-" + view).hidden = true;
  $("denied").hidden = false;
  $("denied").textContent = `${$("tab-" + view).textContent}: this key has no admin role; this view needs an admin key (a key with the admin role, or the master key). This key can use the Reviews view.`;
  $("status").textContent = "403: this view needs an admin key";
  document.body.dataset.denied = view;
}

// Every call to the admin API. A refused key (401, or 403 on a read) is an AuthError; any other error carries the
// message of its OpenAI-shaped body and its status.
async function send(method, path, body, k = key) {
  const headers = { Authorization: "Bearer " + k };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, cache: "no-store", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (r.status === 401 || (r.status === 403 && method === "GET")) throw new AuthError(r.status);
  if (!r.ok) {
    const e = new Error((data && data.error && data.error.message) || `${method} ${path.split("?")[0]}: HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return data;
}
const api = (path, k = key) => send("GET", path, undefined, k);

// Replaces an element's content only when it changed, and gives focus back to the element with the same data-fk
// (a focused button or row keeps its focus across polls).
const rendered = new WeakMap();
function render(el, html) {
  if (rendered.get(el) === html) return false;
  const a = document.activeElement, fk = a && el.contains(a) ? a.dataset.fk : null;
  el.innerHTML = html;
  rendered.set(el, html);
  if (fk) el.querySelector(`[data-fk="${CSS.escape(fk)}"]`)?.focus();
  return true;
}
function attrs(o) { return Object.entries(o || {}).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => ` ${k}="${esc(v)}"`).join(""); }

// A column is { t, num, opt } (opt: hidden on narrow screens); a cell a value or { v, cls, title, sub, trunc, html };
// a row an array of cells or { cls, cells, attrs }.
function table(el, head, rows, empty = "no data yet") {
  const cls = (h, extra) => [h.num ? "num" : "", h.opt ? "opt" : "", extra || ""].join(" ").trim();
  const td = (c, h) => {
    const o = c !== null && typeof c === "object" ? c : { v: c };
    let inner = o.html ?? esc(o.v);
    if (o.trunc) inner = `<span class="trunc" title="${esc(o.title ?? o.v)}">${inner}</span>`;
    if (o.button) inner = `<button type="button" class="link"${attrs(o.button)}>${inner}</button>`;
    if (o.sub) inner += `<small class="sub">${esc(o.sub)}</small>`;
    return `<td class="${cls(h, o.cls)}"${o.title ? ` title="${esc(o.title)}"` : ""}>${inner}</td>`;
  };
  render(el, "<thead><tr>" + head.map((h) => `<th class="${cls(h)}">${esc(h.t)}</th>`).join("") + "</tr></thead><tbody>" +
    (rows.length ? rows.map((r) => Array.isArray(r) ? { cells: r } : r)
                       .map((r) => `<tr class="${esc(r.cls || "")}"${attrs(r.attrs)}>` + r.cells.map((c, i) => td(c, head[i])).join("") + "</tr>").join("")
                 : `<tr><td colspan="${head.length}" style="color:var(--dim)">${esc(empty)}</td></tr>`) + "</tbody>");
}

// Navigation: the view, time range and drill-down are in the hash (#view=keys&range=24h&model=demo), so reload and
// back work; only the visible view is polled.
const RANGES = {
  "15m": { s: 900, bucket: "minute", label: "15 min" }, "1h": { s: 3600, bucket: "minute", label: "1 h" },
  "6h": { s: 21600, bucket: "minute", label: "6 h" }, "24h": { s: 86400, bucket: "hour", label: "24 h" },
  "7d": { s: 604800, bucket: "hour", label: "7 days" }, "30d": { s: 2592000, bucket: "day", label: "30 days" },
};
const BUCKET_S = { minute: 60, hour: 3600, day: 86400 };
const VIEWS = ["overview", "requests", "keys", "teams", "providers", "reviews"];
const COUNTERS = { overview: "loaded", requests: "requests", keys: "keysLoaded", teams: "teams", providers: "providers", reviews: "reviewsLoaded" };
// How often each view is read again (ms): the keys and teams views ask for each budgeted key's or team's spend.
const EVERY = { overview: 2000, requests: 2000, keys: 5000, teams: 5000, providers: 5000, reviews: 3000 };
const state = { view: "overview", range: "1h", model: "", provider: "" };
const refreshers = {}, onApply = [], redraws = [];

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  state.view = VIEWS.includes(p.get("view")) ? p.get("view") : role === "reviewer" ? "reviews" : "overview";
  state.range = RANGES[p.get("range")] ? p.get("range") : "1h";
  state.model = p.get("model") || "";
  state.provider = p.get("provider") || "";
}
function hashOf() {
  const p = new URLSearchParams({ view: state.view });
  if (state.range !== "1h") p.set("range", state.range);
  if (state.model) p.set("model", state.model);
  if (state.provider) p.set("provider", state.provider);
  return "#" + p;
}
// A change of state is a new history entry: the hashchange it fires shows it.
function go(patch) {
  Object.assign(state, patch);
  if (location.hash !== hashOf()) location.hash = hashOf(); else apply();
}
window.addEventListener("hashchange", () => { if (key) { readHash(); apply(); } });

function apply() {
  for (const v of VIEWS) {
    const tab = $("tab-" + v), on = v === state.view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $("view-" + v).hidden = !on;
  }
  for (const b of document.querySelectorAll(".range button")) b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
  $("denied").hidden = true;
  delete document.body.dataset.denied;
  document.body.dataset.view = state.view;
  for (const f of onApply) f();
  poll();
}

let timer = 0, generation = 0;
async function poll() {
  clearTimeout(timer);
  const g = ++generation, view = state.view;
  try {
    await refreshers[view]();
    if (g !== generation) return;
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    const c = COUNTERS[view];
    document.body.dataset[c] = String(Number(document.body.dataset[c] || 0) + 1);
  } catch (e) {
    if (e instanceof AuthError && e.status === 403 && role === "reviewer") { if (g === generation) denied(view); return; }
    if (e instanceof AuthError) { lost(e); return; }
    if (g === generation) $("status").textContent = "error: " + e.message;
  }
  if (g === generation && key) timer = setTimeout(poll, EVERY[view]);
}

// An action's error: a refused key goes back to the prompt, anything else is shown in `el`.
function failed(e, el) {
  if (e instanceof AuthError) lost(e); else el.textContent = e.message;
}
// Focus back to the element that opened a dialog, or to its redrawn twin.
function refocus(el) {
  if (!el) return;
  if (!el.isConnected && el.dataset.fk) el = document.querySelector(`[data-fk="${CSS.escape(el.dataset.fk)}"]`);
  el?.focus();
}

// The tab bar: click or Enter/Space on a tab; arrow keys, Home and End move between tabs and show them.
$("tabs").addEventListener("click", (ev) => { const t = ev.target.closest("[role=tab]"); if (t) go({ view: t.dataset.view }); });
$("tabs").addEventListener("keydown", (ev) => {
  const tabs = [...document.querySelectorAll("#tabs [role=tab]")], i = tabs.indexOf(document.activeElement);
  const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
  if (i < 0 || j === undefined) return;
  ev.preventDefault();
  const t = tabs[(j + tabs.length) % tabs.length];
  t.focus();
  go({ view: t.dataset.view });
});
document.addEventListener("click", (ev) => {
  const b = ev.target.closest(".range button[data-range]");
  if (b) go({ range: b.dataset.range });
});
"""#

    /// The end of the script: the key prompt, and the start.
    static let bootScript = #"""
function forget() { sessionStorage.removeItem(storeKey); key = null; clearTimeout(timer); generation++; }
function lost(e) { forget(); showLogin("The key stopped working. " + authMessage(e), e.status); }

// The board stays hidden until a key has been accepted; the prompt says why a key was not.
function showLogin(message, why) {
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  $("board").hidden = true; $("logout").hidden = true; $("login").hidden = false;
  $("loginError").textContent = message || "";
  $("status").textContent = "not connected";
  document.body.dataset.auth = why ? String(why) : "none";
}

// An admin key reads /admin/health; a key refused there (403) that reads /admin/reviews is a reviewer's.
async function useKey(k) {
  $("status").textContent = "checking the key…";
  let as = "admin";
  try { await api("/admin/health", k); } catch (e) {
    let refused = e;
    if (e instanceof AuthError && e.status === 403) {
      try { await api("/admin/reviews?limit=1", k); as = "reviewer"; refused = null; } catch (e2) { refused = e2 instanceof AuthError ? e : e2; }
    }
    if (refused) {
      forget();
      if (refused instanceof AuthError) showLogin(authMessage(refused), refused.status); else showLogin("Could not reach the admin API: " + refused.message, "error");
      return;
    }
  }
  role = as; document.body.dataset.role = as;
  key = k; sessionStorage.setItem(storeKey, k);
  $("key").value = ""; $("loginError").textContent = "";
  $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
  document.body.dataset.auth = "ok";
  readHash();
  history.replaceState(null, "", location.pathname + location.search + hashOf());
  apply();
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const k = $("key").value.trim();
  if (k) useKey(k); else showLogin("Paste a key first.", "empty");
});
$("logout").addEventListener("click", () => { forget(); location.reload(); });
let resizing = 0;
window.addEventListener("resize", () => { cancelAnimationFrame(resizing); resizing = requestAnimationFrame(() => { for (const f of redraws) f(); }); });
// A key in the hash (#key=…) is taken and removed from the address at once; the rest of the hash stays.
const startHash = new URLSearchParams(location.hash.slice(1)), fromHash = startHash.get("key");
if (fromHash) {
  startHash.delete("key");
  history.replaceState(null, "", location.pathname + location.search + (String(startHash) ? "#" + startHash : ""));
}
const initial = fromHash || sessionStorage.getItem(storeKey);
if (initial) useKey(initial); else showLogin("");
"""#
}
