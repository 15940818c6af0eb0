extension Dashboard {
    /// The charts: SVG line charts over time buckets (minute, hour or day) with a local-time axis whose labels follow
    /// the range (times, or dates over several days) and a y scale with labelled ticks.
    static let chartScript = #"""
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

const localDate = (t, utc) => new Date(t * 1000).toLocaleDateString([], { month: "short", day: "numeric", ...(utc ? { timeZone: "UTC" } : {}) });
const localTime = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// The x axis from `start` to `end` (seconds) with at most one tick per 80 px: whole local minutes that are multiples
// of `minutes` since local midnight, labelled with the time; local midnights labelled with the date over several
// days; for day buckets (UTC days, as the gateway counts them) the buckets' own starts, labelled with their UTC date.
function timeAxis(start, end, step, pw) {
  const room = Math.max(2, Math.floor(pw / 80)), span = end - start;
  if (step >= 86400) {
    const k = [1, 2, 5, 7, 14].find((k) => span / 86400 / k <= room) ?? 14, ticks = [];
    for (let t = start, i = 0; t <= end; t += 86400, i++) if (i % k === 0) ticks.push(t);
    return { minutes: k * 1440, ticks, label: (t) => localDate(t, true) };
  }
  const minutes = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880].find((m) => span / 60 / m <= room) ?? 2880;
  const ticks = [];
  if (minutes >= 1440) {
    const d = new Date(start * 1000);
    d.setHours(0, 0, 0, 0);
    for (let i = 0; d.getTime() / 1000 <= end; d.setDate(d.getDate() + 1)) {
      const t = d.getTime() / 1000;
      if (t >= start && i++ % (minutes / 1440) === 0) ticks.push(t);
    }
    return { minutes, ticks, label: (t) => localDate(t, false) };
  }
  for (let t = Math.ceil(start / 60) * 60; t <= end; t += 60) {
    const d = new Date(t * 1000);
    if ((d.getHours() * 60 + d.getMinutes()) % minutes === 0) ticks.push(t);
  }
  return { minutes, ticks, label: localTime };
}

// One chart: a line per group over the buckets of `d` ({ rows, from, to, bucket, colorOf, empty }), the refused
// requests as a dashed series when `spec.refused`, drawn at the SVG's own size so the text is not stretched.
function drawChart(spec, d) {
  const svg = $(spec.id), legend = spec.legend ? $(spec.legend) : null;
  if (!svg) return;
  const H = spec.height || 180, W = Math.round(svg.getBoundingClientRect().width) || 600;
  const step = BUCKET_S[d.bucket], start = Math.floor(d.from / step) * step, end = Math.floor(d.to / step) * step, n = (end - start) / step + 1;
  const series = new Map();
  for (const r of d.rows) {
    if (r.refused && !spec.refused) continue;
    const name = r.refused ? "refused" : r.group, id = (r.refused ? "1" : "0") + name;
    if (!series.has(id)) series.set(id, { name, refused: !!r.refused, values: new Array(n).fill(spec.kind === "ms" ? null : 0) });
    const i = Math.round((Date.parse(r.bucket) / 1000 - start) / step);
    if (i >= 0 && i < n) series.get(id).values[i] = Number(r[spec.field] ?? 0);
  }
  const lines = [...series.values()].sort((a, b) => (a.refused - b.refused) || (a.name < b.name ? -1 : 1));
  const max = Math.max(0, ...lines.flatMap((s) => s.values.filter((v) => v !== null)));
  const scale = niceTicks(max > 0 ? max : { count: 1, ms: 100, usd: 0.001 }[spec.kind], spec.kind === "count");
  const labels = scale.ticks.map((v) => yLabel(v, spec.kind, scale.step));
  const L = 10 + 6.5 * Math.max(...labels.map((l) => l.length)), R = 14, T = 10, B = 24, pw = W - L - R, ph = H - T - B;
  const x = (t) => L + ((t - start) / Math.max(step, end - start)) * pw;
  const y = (v) => T + ph - (v / scale.top) * ph;
  const f = (v) => v.toFixed(1);
  const shown = H < 120 ? [0, scale.ticks.length - 1] : scale.ticks.map((_, i) => i);
  let out = `<g class="axis y">` + shown.map((i) => { const v = scale.ticks[i]; return (
    `<line class="grid" x1="${f(L)}" x2="${f(W - R)}" y1="${f(y(v))}" y2="${f(y(v))}"/>` +
    `<text class="ytick" x="${f(L - 6)}" y="${f(y(v) + 4)}" text-anchor="end" data-value="${v}">${esc(labels[i])}</text>`); }).join("") + "</g>";
  const axis = timeAxis(start, end, step, pw);
  // A tick closer to the y axis than half a label is left out (its label would run into the scale or the next one).
  out += `<g class="axis x">` + axis.ticks.filter((t) => x(t) >= L + 28).map((t) => {
    const px = x(t), anchor = px > W - 30 ? "end" : "middle";
    return `<line class="tick" x1="${f(px)}" x2="${f(px)}" y1="${f(T + ph)}" y2="${f(T + ph + 4)}"/>` +
      `<text class="xtick" x="${f(px)}" y="${H - 6}" text-anchor="${anchor}" data-t="${t}">${esc(axis.label(t))}</text>`;
  }).join("") + "</g>";
  for (const s of lines) {
    const color = s.refused ? refusedColor : d.colorOf(s.name);
    let path = "", dots = "";
    s.values.forEach((v, i) => {
      if (v === null) return;
      const joined = i > 0 && s.values[i - 1] !== null, alone = !joined && (i + 1 >= n || s.values[i + 1] === null);
      path += (joined ? "L" : "M") + f(x(start + i * step)) + "," + f(y(v));
      if (alone) dots += `<circle cx="${f(x(start + i * step))}" cy="${f(y(v))}" r="2.5" fill="${color}"/>`;
    });
    out += `<path class="series" fill="none" stroke-width="2" stroke-linejoin="round" stroke="${color}"${s.refused ? ` stroke-dasharray="5 4"` : ""}` +
      ` data-group="${esc(s.name)}" data-refused="${s.refused}" d="${path}"><title>${esc(s.name)}</title></path>${dots}`;
  }
  if (!lines.length) out += `<text class="empty" x="${f(L + pw / 2)}" y="${f(T + ph / 2)}" text-anchor="middle">${esc(d.empty)}</text>`;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  Object.assign(svg.dataset, { max: String(max), minutes: String(axis.minutes), bucket: d.bucket, from: String(start), to: String(end) });
  svg.innerHTML = out;
  if (legend) legend.innerHTML = lines.map((s) => s.refused
    ? `<span style="color:${refusedColor}" title="requests the gateway answered itself, before trying any provider">┅ refused</span>`
    : `<span style="color:${d.colorOf(s.name)}">■ ${esc(s.name)}</span>`).join("");
}
"""#
}
