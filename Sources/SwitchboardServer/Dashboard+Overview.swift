extension Dashboard {
    /// Overview: the range picker and drill-down chips, four charts, the tables by model, provider, key and routing
    /// rule, provider health and the recent requests.
    static let overviewMarkup = #"""
<div class="view" id="view-overview" role="tabpanel" aria-labelledby="tab-overview">
  <div class="toolbar">\#(rangePicker)<span id="chips" aria-live="polite"></span>
    <span class="note" id="truncated" hidden>Only the first 200,000 requests of the range are counted (the API says truncated).</span></div>
  <section><h2>Requests per <span class="per">minute</span>, by model</h2><svg class="chart" id="chartRate"></svg><div class="legend" id="legendRate"></div></section>
  <section><h2>p95 latency per <span class="per">minute</span>, by model</h2><svg class="chart" id="chartLatency"></svg><div class="legend" id="legendLatency"></div></section>
  <section><h2>Errors per <span class="per">minute</span>, by model</h2><svg class="chart" id="chartErrors"></svg><div class="legend" id="legendErrors"></div></section>
  <section><h2>Cost (USD) per <span class="per">minute</span>, by model</h2><svg class="chart" id="chartCost"></svg><div class="legend" id="legendCost"></div></section>
  <section><h2>By model (last <span class="rangeName">1 h</span>) <small class="sub">choose a model to see only its requests</small></h2><div class="scroll"><table id="models"></table></div></section>
  <section><h2>By provider (last <span class="rangeName">1 h</span>) <small class="sub">choose a provider to see only its requests</small></h2><div class="scroll"><table id="providers"></table></div></section>
  <section><h2>Provider health</h2><div class="scroll"><table id="health"></table></div></section>
  <section><h2>Top keys by spend (last <span class="rangeName">1 h</span>)</h2><div class="scroll"><table id="keys"></table></div></section>
  <section><h2>By routing rule (last <span class="rangeName">1 h</span>) <small class="sub">the rule that chose the model; none: no rule did</small></h2><div class="scroll"><table id="rules"></table></div></section>
  <section class="wide"><h2>Recent requests <small class="sub">Enter or click a request for its details</small></h2><div class="scroll"><table id="log"></table></div></section>
</div>
"""#

    static let overviewScript = #"""
const charts = [
  { id: "chartRate", legend: "legendRate", field: "requests", kind: "count", refused: true },
  { id: "chartLatency", legend: "legendLatency", field: "p95_latency_ms", kind: "ms", refused: false },
  { id: "chartErrors", legend: "legendErrors", field: "errors", kind: "count", refused: true },
  { id: "chartCost", legend: "legendCost", field: "cost_usd", kind: "usd", refused: false },
];
let drawn = null;
function drawCharts() {
  if (!drawn || $("view-overview").hidden) return;
  for (const spec of charts) drawChart(spec, drawn);
}
redraws.push(drawCharts);

// Drill-down: the served model (served_model=) and the provider (provider=), both shown as removable chips.
const drills = () => [["model", state.model], ["provider", state.provider]].filter(([, v]) => v);
function drillQuery() {
  return (state.model ? "&served_model=" + encodeURIComponent(state.model) : "") + (state.provider ? "&provider=" + encodeURIComponent(state.provider) : "");
}
const drillText = () => drills().map(([k, v]) => `${k} ${v}`).join(" and ");
onApply.push(() => {
  render($("chips"), drills().map(([k, v]) => `<span class="chip" data-chip="${k}">${k}: <b>${esc(v)}</b>` +
    `<button type="button" data-unchip="${k}" data-fk="unchip:${k}" aria-label="Remove the filter ${k} ${esc(v)}">✕</button></span>`).join(""));
  const r = RANGES[state.range];
  for (const el of document.querySelectorAll(".per")) el.textContent = r.bucket;
  for (const el of document.querySelectorAll(".rangeName")) el.textContent = r.label;
});

refreshers.overview = async () => {
  const r = RANGES[state.range], now = Math.floor(Date.now() / 1000), from = now - r.s, f = drillQuery();
  // By rule: a gateway without group_by=rule (400) leaves its table saying so.
  const [perBucket, byModel, byProvider, byKey, health, log, byRule] = await Promise.all([
    api(`/admin/analytics?group_by=model&bucket=${r.bucket}&from=${from}${f}`),
    api(`/admin/analytics?group_by=model&from=${from}${f}`),
    api(`/admin/analytics?group_by=provider&from=${from}${f}`),
    api(`/admin/analytics?group_by=key&from=${from}${f}`),
    api("/admin/health"),
    api(`/admin/logs?limit=50&from=${from}${f}`),
    api(`/admin/analytics?group_by=rule&from=${from}${f}`).catch((e) => { if (e instanceof AuthError) throw e; return null; }),
  ]);
  // A model drill-down is applied here too, for a gateway that does not know served_model= yet.
  const only = (rows) => state.model ? rows.filter((x) => !x.refused && x.group === state.model) : rows;
  // A model keeps its colour in every chart.
  const names = [...new Set(byModel.data.concat(perBucket.data).filter((x) => !x.refused).map((x) => x.group))].sort();
  const colorOf = (g) => colors[Math.max(0, names.indexOf(g)) % colors.length];
  const within = drills().length ? ` for ${drillText()}` : "";
  drawn = { rows: only(perBucket.data), from, to: now, bucket: r.bucket, colorOf, empty: `no requests in the last ${r.label}${within}` };
  drawCharts();
  $("truncated").hidden = ![perBucket, byModel, byProvider, byKey].some((a) => a.truncated);

  const cols = [{ t: "" }, { t: "requests", num: 1 }, { t: "errors", num: 1 }, { t: "p50 ms", num: 1, opt: 1 }, { t: "p95 ms", num: 1 },
                { t: "tokens in", num: 1, opt: 1 }, { t: "tokens out", num: 1, opt: 1 }, { t: "cost", num: 1 }];
  const figures = (x) => [fmt(x.requests), { v: fmt(x.errors), cls: x.errors ? "s5" : "", title: codes(x.error_codes) || undefined },
                          fmt(x.p50_latency_ms, 1), fmt(x.p95_latency_ms, 1), fmt(x.prompt_tokens), fmt(x.completion_tokens), usd(x.cost_usd)];
  const rows = (data, kind) => data.filter((x) => !x.refused).map((x) => ({
    cls: "pick", attrs: { "data-drill": kind, "data-value": x.group },
    cells: [{ v: x.group, trunc: true, button: { "data-fk": `drill:${kind}:${x.group}`, "aria-label": `Show only the ${kind} ${x.group}` } }, ...figures(x)],
  })).concat(data.filter((x) => x.refused).map((x) => ({ cls: "refused", cells: [
    { v: "refused", sub: codes(x.error_codes), title: "answered by the gateway before any provider was tried: " + codes(x.error_codes) }, ...figures(x)] })));
  table($("models"), cols, rows(only(byModel.data), "model"), `no requests in the last ${r.label}${within}`);
  table($("providers"), cols, rows(byProvider.data.filter((x) => !state.model || !x.refused), "provider"), `no requests in the last ${r.label}${within}`);
  const total = only(byModel.data).reduce((a, x) => ({ n: a.n + x.requests, c: a.c + x.cost_usd, refused: a.refused + (x.refused ? x.requests : 0) }), { n: 0, c: 0, refused: 0 });
  $("summary").textContent = `${fmt(total.n)} requests` + (total.refused ? ` (${fmt(total.refused)} refused)` : "") + `, ${usd(total.c)} in the last ${r.label}${within}`;
  table($("keys"), [{ t: "key" }, { t: "requests", num: 1 }, { t: "errors", num: 1, opt: 1 }, { t: "cost", num: 1 }],
    byKey.data.sort((a, b) => b.cost_usd - a.cost_usd).slice(0, 10).map((x) => {
      const name = x.key_name ?? x.group;
      return [{ v: name, trunc: true, title: name === x.group ? `${name} (a key from the configuration, no id)` : `${name} (id ${x.group})` },
              fmt(x.requests), { v: fmt(x.errors), cls: x.errors ? "s5" : "" }, usd(x.cost_usd)];
    }));
  table($("rules"), [{ t: "rule" }, { t: "requests", num: 1 }, { t: "errors", num: 1 }, { t: "p95 ms", num: 1, opt: 1 }, { t: "cost", num: 1 }],
    (byRule?.data || []).sort((a, b) => (a.group === "none") - (b.group === "none") || b.requests - a.requests).map((x) => ({ attrs: { "data-rule": x.group }, cells: [
      { v: x.group, trunc: true, cls: x.group === "none" ? "dim" : "" }, fmt(x.requests), { v: fmt(x.errors), cls: x.errors ? "s5" : "" },
      fmt(x.p95_latency_ms, 1), usd(x.cost_usd)] })), byRule ? `no requests in the last ${r.label}${within}` : "not available in this gateway");
  const hrows = [];
  for (const m of health.models) for (const d of m.deployments) {
    if ((state.model && m.name !== state.model) || (state.provider && d.provider !== state.provider)) continue;
    hrows.push([{ v: m.name, trunc: true }, { v: d.provider, trunc: true }, { v: d.model, trunc: true }, { v: d.state, cls: "state-" + d.state },
                fmt(d.in_flight ?? 0), d.ewma_ttft_ms == null ? "" : fmt(d.ewma_ttft_ms, 1)]);
  }
  table($("health"), [{ t: "model" }, { t: "provider" }, { t: "deployment", opt: 1 }, { t: "state" }, { t: "in flight", num: 1, opt: 1 }, { t: "ttft ms", num: 1 }], hrows);
  logTable($("log"), log.data.filter((x) => !state.model || servedOf(x) === state.model), `no requests in the last ${r.label}${within}`);
};

// The request log as a table whose rows open the request's details (click, or Enter on the focused row).
function logTable(el, records, empty) {
  table(el, [{ t: "time" }, { t: "key" }, { t: "model" }, { t: "provider", opt: 1 }, { t: "status", num: 1 }, { t: "attempts", num: 1, opt: 1 },
             { t: "latency ms", num: 1 }, { t: "tokens", num: 1, opt: 1 }, { t: "cost", num: 1 }],
    records.map((x) => ({ cls: "pick", attrs: { tabindex: "0", "data-id": x.id, "data-fk": "req:" + x.id, "aria-label": `Request at ${when(x.started_at_s)}: details` }, cells: [
      { v: when(x.started_at_s), title: x.started_at }, { v: x.key_name, trunc: true, title: x.key_id ? `${x.key_name} (id ${x.key_id})` : x.key_name },
      { v: x.model, trunc: true, sub: servedOf(x) && servedOf(x) !== x.model ? "served by " + servedOf(x) : "" }, { v: x.provider ?? "", trunc: true },
      { v: x.status, cls: "s" + String(x.status)[0], title: x.error_code ?? undefined }, x.attempts, fmt(x.latency_ms, 1),
      fmt(x.usage.prompt_tokens + x.usage.completion_tokens), usd(x.cost_usd)] })), empty);
}

$("view-overview").addEventListener("click", (ev) => {
  const un = ev.target.closest("[data-unchip]");
  if (un) {
    go({ [un.dataset.unchip]: "" });
    ($("chips").querySelector("button") || document.querySelector("#view-overview .range button[aria-pressed=true]"))?.focus();
    return;
  }
  const row = ev.target.closest("tr[data-drill]");
  if (row) go({ [row.dataset.drill]: row.dataset.value });
});
"""#
}
