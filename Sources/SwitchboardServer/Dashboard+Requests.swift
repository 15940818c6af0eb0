extension Dashboard {
    /// Requests: the request log with filters and paging to older records, and the detail dialog (every field of a
    /// record and its bodies, as text).
    static let requestsMarkup = #"""
<div class="view" id="view-requests" role="tabpanel" aria-labelledby="tab-requests" hidden>
<section class="wide"><h2>Request log <small class="sub">newest first; Enter or click a request for its details and bodies</small></h2>
  <form class="filters" id="rFilters" role="search" aria-label="Filter the request log" autocomplete="off">
    <label>model asked for <input id="rModel" list="modelNames" placeholder="any"></label>
    <label>served by model <input id="rServed" list="modelNames" placeholder="any"></label>
    <label>provider <select id="rProvider"><option value="">any</option></select></label>
    <label>key <select id="rKey"><option value="">any</option></select></label>
    <label>status <select id="rStatus"><option value="">any</option><option>2xx</option><option>4xx</option><option>5xx</option><option>429</option></select></label>
    <label>time <select id="rRange"><option value="15m">last 15 min</option><option value="1h">last 1 h</option><option value="6h">last 6 h</option>
      <option value="24h" selected>last 24 h</option><option value="7d">last 7 days</option><option value="30d">last 30 days</option><option value="">any time</option></select></label>
    <label>per page <select id="rLimit"><option>10</option><option selected>50</option><option>200</option></select></label>
  </form>
  <div class="scroll"><table id="reqLog"></table></div>
  <p><button type="button" id="rMore" hidden>Show older requests</button> <span id="rCount" class="sub"></span></p>
</section>
</div>
"""#

    static let requestsScript = #"""
// The log shown: the first page is refreshed by the poll; once older pages are shown it stays as it is.
let reqRows = [], reqNext = null, reqPaged = false;
function reqQuery(before) {
  const q = new URLSearchParams({ limit: $("rLimit").value });
  const add = (k, v) => { if (v) q.set(k, v); };
  add("model", $("rModel").value.trim());
  add("served_model", $("rServed").value.trim());
  add("provider", $("rProvider").value);
  add("key_id", $("rKey").value);
  add("status", $("rStatus").value);
  if ($("rRange").value) q.set("from", String(Math.floor(Date.now() / 1000) - RANGES[$("rRange").value].s));
  add("before", before);
  return q;
}
async function loadRequests(older) {
  const page = await api("/admin/logs?" + reqQuery(older ? reqNext : null));
  if (older) {
    const seen = new Set(reqRows.map((x) => x.id));  // same-instant neighbours may come again
    reqRows = reqRows.concat(page.data.filter((x) => !seen.has(x.id)));
  } else reqRows = page.data;
  reqNext = page.next_before;
  reqPaged = older;
  logTable($("reqLog"), reqRows, "no request matches the filters");
  $("rMore").hidden = !reqNext;
  $("rCount").textContent = `${fmt(reqRows.length)} shown` + (reqNext ? "; older ones on the next page" : "");
}
// The choices of the provider and key filters, from the health report and the managed keys (read every 30 s).
let choicesAt = 0;
async function requestChoices() {
  if (Date.now() - choicesAt < 30000) return;
  choicesAt = Date.now();
  const [health, keys] = await Promise.all([api("/admin/health"), api("/admin/keys?include_revoked=true")]);
  const fill = (el, options) => {
    const v = el.value;
    render(el, `<option value="">any</option>` + options.map(([value, label]) => `<option value="${esc(value)}">${esc(label)}</option>`).join(""));
    el.value = v;
  };
  fill($("rProvider"), [...new Set(health.models.flatMap((m) => m.deployments.map((d) => d.provider)))].sort().map((p) => [p, p]));
  fill($("rKey"), keys.data.map((k) => [k.id, `${k.name} (${k.id})`]));
  render($("modelNames"), health.models.map((m) => `<option value="${esc(m.name)}">`).join(""));
}
refreshers.requests = async () => {
  await requestChoices();
  if (!reqPaged && !$("detail").open) await loadRequests(false);
};
let typing = 0;
$("rFilters").addEventListener("submit", (ev) => ev.preventDefault());
$("rFilters").addEventListener("change", () => { reqPaged = false; poll(); });
$("rFilters").addEventListener("input", (ev) => {
  if (ev.target.tagName !== "INPUT") return;
  clearTimeout(typing);
  typing = setTimeout(() => { reqPaged = false; poll(); }, 300);
});
$("rMore").addEventListener("click", async () => {
  try { await loadRequests(true); } catch (e) { failed(e, $("rCount")); }
});

// The detail of one request: every field, and the bodies pretty-printed when they are JSON, always as text.
let detailOpener = null;
function showBody(el, text) {
  el.classList.toggle("absent", text == null);
  if (text == null) { el.textContent = "Bodies are not kept — set logging.bodies (enabled: true) in the configuration to keep them."; return; }
  let out = text;
  try { out = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { out = text; }
  el.textContent = out;
}
async function openDetail(id, opener) {
  detailOpener = opener;
  let x;
  try { x = await api("/admin/logs/" + encodeURIComponent(id)); } catch (e) { failed(e, $("status")); return; }
  const none = (v, what = "none") => v == null || v === "" ? what : v;
  const ms = (v) => v == null ? "n/a" : fmt(v, 1) + " ms";
  const fields = [
    ["time", `${new Date(x.started_at_s * 1000).toLocaleString()} (${x.started_at})`], ["id", x.id],
    ["key", x.key_name + (x.key_id ? ` (id ${x.key_id})` : "")], ["team", none(x.team)], ["endpoint", x.endpoint],
    ["requested model", x.model], ["served model", none(servedOf(x), "none (no provider was tried)")], ["provider", none(x.provider)],
    ["deployment", none(x.deployment)], ["stream", x.stream ? "yes" : "no"], ["status", x.status], ["error code", none(x.error_code)],
    ["attempts", x.attempts], ["route reason", none(x.route_reason)], ["route rule", none(x.route_rule)], ["hedged", x.hedged ? "yes" : "no"], ["latency", ms(x.latency_ms)],
    ["time to first token", ms(x.ttft_ms)], ["prompt tokens", fmt(x.usage.prompt_tokens)], ["completion tokens", fmt(x.usage.completion_tokens)],
    ["cached tokens", fmt(x.usage.cached_tokens)], ["reasoning tokens", fmt(x.usage.reasoning_tokens)], ["cost", usd(x.cost_usd)],
  ];
  $("detailTitle").textContent = `Request ${x.id}`;
  $("detailFields").innerHTML = fields.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(v)}</dd>`).join("");
  showBody($("detailRequest"), x.request_body);
  showBody($("detailResponse"), x.response_body);
  if (!$("detail").open) $("detail").showModal();
  $("detailClose").focus({ preventScroll: true });  // the dialog is read from its top
  $("detail").scrollTop = 0;
}
$("detailClose").addEventListener("click", () => $("detail").close());
$("detail").addEventListener("close", () => { refocus(detailOpener); detailOpener = null; });
$("board").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-id]");
  if (row) openDetail(row.dataset.id, row);
});
$("board").addEventListener("keydown", (ev) => {
  const row = ev.target.closest("tr[data-id]");
  if (row && ev.target === row && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); openDetail(row.dataset.id, row); }
});
"""#
}
