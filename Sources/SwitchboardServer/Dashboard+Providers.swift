extension Dashboard {
    /// Providers & models: the routing layer (virtual models, rules, the pricing source's state), the running
    /// configuration from `/admin/config` (secrets masked by the API), and per
    /// deployment its health now, a timeline of its health events over the range, and its p95 latency per bucket.
    static let providersMarkup = #"""
<div class="view" id="view-providers" role="tabpanel" aria-labelledby="tab-providers" hidden>
  <div class="toolbar">\#(rangePicker)<span class="note" id="pNote"></span></div>
  <section class="wide" id="routingPanel"><h2>Routing <small class="sub">virtual models, and the rules that choose a model for them: tried in order, the first whose conditions all hold decides</small></h2>
    <div class="facts" id="routerFacts"></div><div class="scroll"><table id="ruleList"></table></div><div class="facts" id="pricingFacts"></div></section>
  <section class="wide"><h2>Gateway</h2><div class="facts" id="gateway"></div></section>
  <section class="wide"><h2>Providers</h2><div class="scroll"><table id="provList"></table></div></section>
  <section class="wide"><h2>Models and deployments <small class="sub">health over the last <span class="rangeName">1 h</span>: green closed, amber half open or cooling down, red ejected or down</small></h2>
    <div class="cards" id="modelCards"></div></section>
</div>
"""#

    static let providersScript = #"""
// The configuration is read once a minute (it does not change while the gateway runs); health and latency every poll.
let config = null, configAt = 0, provData = null;
refreshers.providers = async () => {
  const r = RANGES[state.range], now = Math.floor(Date.now() / 1000), from = now - r.s;
  const soft = (e) => { if (e instanceof AuthError) throw e; return { unavailable: e.status === 404 || e.status === 400 ? "not available in this gateway" : e.message }; };
  if (!config || Date.now() - configAt > 60000) { config = await api("/admin/config").catch(soft); configAt = Date.now(); }
  const [health, latency] = await Promise.all([api("/admin/health"), api(`/admin/analytics?group_by=deployment&bucket=${r.bucket}&from=${from}`).catch(soft)]);
  provData = { health, latency, from, to: now, r };
  drawProviders();
};

// Prices per million tokens: cents, or more digits when cents would round them ($0.075).
const price = (v) => v == null ? "n/a" : "$" + (Number(Number(v).toFixed(2)) === Number(v) ? Number(v).toFixed(2) : String(Number(Number(v).toPrecision(4))));
const fact = (label, value, attr = "") => `<span${attr}>${esc(label)} <b>${esc(value)}</b></span>`;

function drawGateway(c) {
  if (c.unavailable) { render($("gateway"), fact("configuration", c.unavailable)); return; }
  const keys = (c.auth?.static_keys || []).map((k) => `${k.name} ${k.key}`).join(", ");
  const h = c.routing?.health || {};
  render($("gateway"), [fact("source", c.source), fact("listen", c.server?.listen ?? ""), fact("storage", c.storage?.kind ?? ""),
    fact("master key", c.auth?.master_key ?? "none"), fact("static keys", keys || "none"),
    fact("bodies kept", c.logging?.bodies?.enabled ? "yes" : "no (logging.bodies)"), fact("retries", c.routing?.retries ?? ""),
    fact("ejection after", `${h.failure_threshold ?? "?"} failures, ${h.ejection_s ?? "?"} s first`)].join(""));
}

// The routing layer (`router` of /admin/config): virtual models, the rules in order with the conditions each uses (not
// their values) and where it routes, and the pricing source with its state from /admin/health. Keys this page does
// not know yet are shown as they come.
function generic(v) {
  if (v == null) return "none";
  if (Array.isArray(v)) return v.map(generic).join(", ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k}: ${generic(x)}`).join("; ") || "none";
  return String(v);
}
const nameList = (v) => [].concat(v ?? []).map(generic);
const ago = (s) => s < 120 ? `${fmt(s)} s ago` : s < 7200 ? `${fmt(s / 60)} min ago` : `${fmt(s / 3600, 1)} h ago`;
const ROUTER_KEYS = ["models", "rules", "region_header", "expected_output_tokens", "classifier", "pricing"];
function drawRouting(c, ps) {
  const r = c.router;
  const empty = c.unavailable ? `the running configuration is ${c.unavailable}` : "no routing rules: requests go to the model they name";
  render($("routerFacts"), c.unavailable || !r ? fact("routing", c.unavailable ? c.unavailable : "not configured") :
    [fact("virtual models", nameList(r.models).join(", ") || "none", ` id="virtualModels"`),
     fact("region header", r.region_header ?? "none"), fact("expected output tokens", r.expected_output_tokens ?? "n/a"),
     fact("classifier", r.classifier ?? "none"),
     ...Object.entries(r).filter(([k]) => !ROUTER_KEYS.includes(k)).map(([k, v]) => fact(k.replace(/_/g, " "), generic(v)))].join(""));
  table($("ruleList"), [{ t: "#", num: 1 }, { t: "rule" }, { t: "conditions" }, { t: "routes to" }],
    (r?.rules || []).map((rule, i) => {
      const route = rule.route || {}, main = [], more = [];
      for (const [k, v] of Object.entries(route)) {
        if (k === "model") main.push(generic(v));
        else if (k === "tiers") main.push("tiers " + nameList(v).join(" → "));
        else if (k === "cheapest") main.push("cheapest of " + nameList(v).join(", "));
        else more.push(`${k}: ${generic(v)}`);
      }
      more.push(...Object.entries(rule).filter(([k]) => !["name", "when", "route"].includes(k)).map(([k, v]) => `${k}: ${generic(v)}`));
      return { attrs: { "data-rule": rule.name }, cells: [i + 1, { v: rule.name, trunc: true },
        { v: nameList(rule.when).join(", ") || "always", cls: "wrap" }, { v: main.join("; ") || generic(route), sub: more.join("; "), cls: "wrap" }] };
    }), empty);
  const p = r?.pricing;
  if (!p && !ps) { render($("pricingFacts"), ""); return; }
  const src = p || ps;
  render($("pricingFacts"), [fact("price list", src.url ?? ""), fact("refresh", src.refresh_s != null ? `every ${fmt(src.refresh_s)} s` : "n/a"),
    ps ? fact("updated", ps.age_s == null ? "never read successfully" : ago(ps.age_s), ` title="${esc(ps.updated_at ?? "")}"` + (ps.age_s == null ? ` class="warn"` : "")) : "",
    ps ? fact("failed reads", ps.failures ?? 0, ps.failures ? ` class="warn"` : "") : "",
    ps ? fact("deployments priced", `${ps.deployments_priced ?? "?"} of ${ps.deployments ?? "?"}`) : "",
    ps?.last_error ? fact("last error", ps.last_error, ` class="error"`) : ""].join(""));
}

// The health states over [from, to] from the deployment's events (oldest first): the state before the first event in
// range is the one the last earlier event set (closed without any), each event starts a segment.
function segments(events, from, to) {
  const evs = (events || []).map((e) => ({ t: e.at_s ?? Date.parse(e.at) / 1000, state: e.state === "up" ? "closed" : e.state, reason: e.reason }));
  let current = "closed", t0 = from;
  const out = [];
  for (const e of evs) {
    if (e.t <= from) { current = e.state; continue; }
    if (e.t > to) break;
    if (e.state === current) continue;
    out.push({ from: t0, to: e.t, state: current });
    current = e.state; t0 = e.t;
  }
  out.push({ from: t0, to, state: current });
  return out;
}

function timeline(d, from, to) {
  if (!d.events) return `<small class="sub">health timeline not available in this gateway</small>`;
  const segs = segments(d.events, from, to), span = Math.max(1, to - from);
  // A spell away from closed stays visible however short it was against the range (at least 1% of the strip).
  const rects = segs.map((s) => {
    const w = Math.max(s.state === "closed" ? 0.5 : 10, (s.to - s.from) / span * 1000), x = Math.min((s.from - from) / span * 1000, 1000 - w);
    return `<rect class="tl-${esc(s.state)}" data-state="${esc(s.state)}" x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="16">` +
      `<title>${esc(s.state)} from ${esc(when(s.from))} to ${esc(when(s.to))}</title></rect>`;
  }).join("");
  const inRange = d.events.filter((e) => (e.at_s ?? Date.parse(e.at) / 1000) >= from);
  const label = segs.map((s) => `${s.state} from ${when(s.from)}`).join(", ");
  return `<svg class="timeline" viewBox="0 0 1000 16" preserveAspectRatio="none" role="img" aria-label="${esc("health: " + label)}">${rects}</svg>` +
    `<div class="axis-ends"><span>${esc(when(from))}</span><span>now</span></div>` +
    `<details><summary data-fk="events">${inRange.length} health event${inRange.length === 1 ? "" : "s"} in range (${d.events.length} kept)</summary><ol>` +
    inRange.slice().reverse().map((e) => `<li><span class="state-${esc(e.state)}">${esc(e.state)}</span> ${esc(when(e.at_s ?? Date.parse(e.at) / 1000))}: ${esc(e.reason)}</li>`).join("") +
    `</ol></details>`;
}

function drawProviders() {
  if (!provData) return;
  const { health, latency, from, to, r } = provData, c = config;
  $("pNote").textContent = c.unavailable ? `The running configuration is ${c.unavailable}: showing the deployments the health report knows.` :
    latency.unavailable ? `Latency per deployment is ${latency.unavailable}.` : "";
  drawRouting(c, health.pricing);
  drawGateway(c);
  const providers = c.providers || [...new Set(health.models.flatMap((m) => m.deployments.map((d) => d.provider)))].map((name) => ({ name }));
  table($("provList"), [{ t: "provider" }, { t: "kind" }, { t: "base URL" }, { t: "API key" }, { t: "headers", opt: 1 }],
    providers.map((p) => ({ attrs: { "data-provider": p.name }, cells: [
      { v: p.name, trunc: true }, p.kind ?? "", { v: p.base_url ?? (p.kind === "mock" ? `simulated: ${p.latency_ms} ms, ttft ${p.ttft_ms} ms, errors ${p.error_rate}` : ""), trunc: true },
      { v: p.api_key ?? "none", cls: "apikey" }, Object.entries(p.headers || {}).map(([k, v]) => `${k}: ${v}`).join(", ")] })));
  const healthOf = new Map(health.models.flatMap((m) => m.deployments.map((d) => [`${m.name}\n${d.provider}\n${d.model}`, d])));
  const models = c.models || health.models.map((m) => ({ name: m.name, fallbacks: m.fallbacks || [], deployments: m.deployments.map((d) => ({ provider: d.provider, model: d.model })) }));
  const cards = $("modelCards"), charts = [];
  const html = models.map((m, mi) => `<div class="card" data-model="${esc(m.name)}"><h3>${esc(m.name)}</h3><div class="facts">` +
    (m.balancer ? fact("balancer", m.balancer) : "") + fact("fallbacks", (m.fallbacks || []).join(", ") || "none") + `</div>` +
    m.deployments.map((d, di) => {
      const id = `lat-${mi}-${di}`;
      charts.push({ id, group: `${d.provider}/${d.model}` });
      return `<div class="dep" data-provider="${esc(d.provider)}" data-deployment="${esc(d.model)}"><h3>${esc(d.provider)} / ${esc(d.model)} <span class="dep-state"></span></h3>` +
        `<div class="facts dep-facts"></div><div class="dep-timeline"></div><svg class="spark" id="${id}" role="img" aria-label="p95 latency of ${esc(d.provider)}/${esc(d.model)}"></svg></div>`;
    }).join("") + `</div>`).join("");
  render(cards, html);
  models.forEach((m) => m.deployments.forEach((d) => {
    const el = cards.querySelector(`.card[data-model="${CSS.escape(m.name)}"] .dep[data-provider="${CSS.escape(d.provider)}"][data-deployment="${CSS.escape(d.model)}"]`);
    const h = healthOf.get(`${m.name}\n${d.provider}\n${d.model}`) || {}, lim = d.limits || {}, p = d.price || {};
    el.dataset.state = h.state ?? "";
    render(el.querySelector(".dep-state"), h.state ? `<span class="state-${esc(h.state)}">${esc(h.state)}</span>` : "");
    const limits = [lim.rpm ? `${lim.rpm} rpm` : "", lim.tpm ? `${lim.tpm} tpm` : "", lim.max_concurrent ? `${lim.max_concurrent} at once` : ""].filter(Boolean).join(", ");
    render(el.querySelector(".dep-facts"), [d.weight != null ? fact("weight", d.weight) : "",
      d.price ? fact("price in", price(p.input_per_million_usd) + " / M") + fact("out", price(p.output_per_million_usd) + " / M") +
        (p.cached_input_per_million_usd != null ? fact("cached", price(p.cached_input_per_million_usd) + " / M") : "") : "",
      d.limits ? fact("limits", limits || "none") : "", fact("ejections in a row", h.ejections ?? 0, ` class="ejections" data-value="${esc(h.ejections ?? 0)}"`),
      h.ejected_for_ms ? fact("ejected for", fmt(h.ejected_for_ms / 1000, 1) + " s") : "",
      fact("p95 TTFT", h.p95_ttft_ms == null ? "n/a" : fmt(h.p95_ttft_ms, 1) + " ms"), fact("in flight", h.in_flight ?? 0)].join(""));
    const tl = el.querySelector(".dep-timeline"), open = tl.querySelector("details")?.open;
    render(tl, timeline(h, from, to));
    if (open) tl.querySelector("details").open = true;
  }));
  const lat = latency.unavailable ? [] : latency.data.filter((x) => !x.refused);
  for (const ch of charts) drawChart({ id: ch.id, field: "p95_latency_ms", kind: "ms", refused: false, height: 90 },
    { rows: lat.filter((x) => x.group === ch.group), from, to, bucket: r.bucket, colorOf: () => colors[0],
      empty: latency.unavailable ? "latency not available" : `no requests in the last ${r.label}` });
}
redraws.push(() => { if (!$("view-providers").hidden) drawProviders(); });
"""#
}
