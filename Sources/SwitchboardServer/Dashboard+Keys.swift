extension Dashboard {
    /// Keys: the managed keys with their spend against each budget, a create form (the secret shown once), and per
    /// key Edit (the shared editor dialog), Rotate and Revoke, each confirmed in the page.
    static let keysMarkup = #"""
<div class="view" id="view-keys" role="tabpanel" aria-labelledby="tab-keys" hidden>
<section class="wide" id="keysPanel" aria-labelledby="keysTitle"><h2 id="keysTitle">Keys</h2>
  <form id="kCreate" class="keyform" autocomplete="off">
    <label>name <input id="kName" required placeholder="e.g. ci-pipeline"></label>
    <label>models (comma-separated) <input id="kModels" placeholder="all, or demo, gpt-4o*"></label>
    <label>requests / min <input id="kRpm" inputmode="numeric" placeholder="no limit"></label>
    <label>daily budget (USD) <input id="kBudget" inputmode="decimal" placeholder="no limit"></label>
    <button type="submit" id="kSubmit">Create key</button>
  </form>
  <p class="error" id="kError" role="alert"></p>
  <div class="secret" id="kSecret" role="status" hidden>
    <strong><span id="kSecretWhat">New key</span> <span id="kSecretName"></span></strong>
    <code id="kSecretText"></code>
    <button type="button" id="kCopy">Copy</button> <button type="button" id="kDone">Done</button> <span id="kCopied"></span>
    <small class="sub">This is the only time the key is shown: copy it now. It will not be shown again (rotate the key if it is lost).</small>
  </div>
  <div class="filters"><input id="kFilter" placeholder="filter keys" aria-label="filter keys"></div>
  <div class="scroll"><table id="keyList"></table></div>
</section>
</div>
"""#

    static let keysScript = #"""
const PERIODS = ["day", "week", "month", "total"];
const PERIOD_TEXT = { day: "today", week: "this week", month: "this month", total: "in total" };

// Spend against each budget: a bar and "$x of $y this month"; `spend` is the API's { day_usd, week_usd, … }.
function budgetBars(limits, spend) {
  const budgets = (limits && limits.budgets) || [];
  if (!budgets.length) return `<small class="sub">no budget</small>`;
  return budgets.map((b) => {
    const spent = spend ? Number(spend[b.period + "_usd"] ?? 0) : null, ratio = spent == null || !b.usd ? 0 : spent / b.usd;
    const pct = Math.round(Math.min(1, ratio) * 100);
    return `<div class="budget ${ratio >= 1 ? "over" : ratio >= 0.8 ? "near" : ""}" data-period="${esc(b.period)}" data-spent="${spent ?? ""}" data-usd="${esc(b.usd)}">` +
      `<div class="bar" role="progressbar" aria-label="${esc(b.period)} budget used" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span style="width:${pct}%"></span></div>` +
      `${spent == null ? "spend not available" : esc(usd(spent))} of ${esc(usd(b.usd))} ${PERIOD_TEXT[b.period] || esc(b.period)}</div>`;
  }).join("");
}

// /admin/keys (the list, with revoked keys), this month's spend per key from /admin/analytics, and for each key with a
// budget its spend per period from /admin/keys/{id}.
let keyRows = [], keySpend = {}, keyBudgetSpend = {}, confirming = null;
refreshers.keys = async () => {
  const d = new Date(), month = Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000);
  const [keys, spend, teams] = await Promise.all([api("/admin/keys?include_revoked=true"), api(`/admin/analytics?group_by=key&from=${month}`),
                                                  api("/admin/teams")]);
  keyRows = keys.data.sort((a, b) => (a.status === "active" ? 0 : 1) - (b.status === "active" ? 0 : 1) || (a.created_at < b.created_at ? 1 : -1));
  keySpend = Object.fromEntries(spend.data.map((x) => [x.group, x.cost_usd]));
  render($("teamNames"), teams.data.map((t) => `<option value="${esc(t.name)}">`).join(""));
  const budgeted = keyRows.filter((k) => k.status === "active" && (k.limits?.budgets || []).length).slice(0, 100);
  const details = await Promise.all(budgeted.map((k) => api("/admin/keys/" + encodeURIComponent(k.id)).catch((e) => { if (e instanceof AuthError) throw e; return null; })));
  keyBudgetSpend = Object.fromEntries(details.filter(Boolean).map((x) => [x.id, x.spend]));
  drawKeys();
};

function drawKeys() {
  const q = $("kFilter").value.trim().toLowerCase();
  const rows = keyRows.filter((k) => !q || [k.name, k.id, k.team, k.status, ...(k.models || [])].some((v) => String(v ?? "").toLowerCase().includes(q)));
  const head = ["name", "team", "models", "status", "budgets", "spend this month", "created", ""];
  const cls = ["", "opt", "", "", "", "num", "opt", ""];
  const body = rows.map((k) => {
    const id = esc(k.id), name = esc(k.name);
    let action = "";
    if (k.status === "active" && confirming && confirming.id === k.id) {
      const rotate = confirming.what === "rotate";
      action = `<span>${rotate ? "Rotate" : "Revoke"} ${name}?${rotate ? " The old secret stops working at once." : ""}</span> ` +
        `<button type="button" class="danger" data-confirm="${id}" data-fk="confirm:${id}">Yes, ${rotate ? "rotate" : "revoke"}</button> ` +
        `<button type="button" data-cancel="1" data-fk="cancel:${id}">Cancel</button>`;
    } else if (k.status === "active") {
      action = `<button type="button" data-edit="${id}" data-fk="edit:${id}" aria-label="Edit ${name}">Edit</button> ` +
        `<button type="button" data-rotate="${id}" data-fk="rotate:${id}" aria-label="Rotate ${name}">Rotate</button> ` +
        `<button type="button" data-revoke="${id}" data-fk="revoke:${id}" aria-label="Revoke ${name}">Revoke</button>`;
    }
    const created = Date.parse(k.created_at) / 1000;
    const expires = k.expires_at ? `expires ${when(Date.parse(k.expires_at) / 1000)}` : "";
    const cells = [`<span class="trunc" title="${name} (id ${id})">${name}</span><small class="sub">${esc(k.key_hint)}</small>`,
                   esc(k.team ?? ""), `<span class="trunc">${esc((k.models || []).length ? k.models.join(", ") : "all")}</span>` +
                   (k.limits?.rpm || k.limits?.tpm ? `<small class="sub">${[k.limits.rpm ? `${k.limits.rpm} rpm` : "", k.limits.tpm ? `${k.limits.tpm} tpm` : ""].filter(Boolean).join(", ")}</small>` : ""),
                   `<span class="status-${esc(k.status)}">${esc(k.status)}</span>` + (expires ? `<small class="sub">${esc(expires)}</small>` : ""),
                   k.status === "active" ? budgetBars(k.limits, keyBudgetSpend[k.id]) : "", esc(usd(keySpend[k.id] ?? 0)),
                   `<span title="${esc(k.created_at)}">${esc(isNaN(created) ? "" : when(created))}</span>`, `<div class="actions">${action}</div>`];
    return `<tr data-id="${id}" data-name="${name}" data-status="${esc(k.status)}">` + cells.map((c, i) => `<td class="${cls[i]}">${c}</td>`).join("") + "</tr>";
  }).join("");
  render($("keyList"), "<thead><tr>" + head.map((h, i) => `<th class="${cls[i]}">${esc(h)}</th>`).join("") + "</tr></thead><tbody>" +
    (body || `<tr><td colspan="${head.length}" style="color:var(--dim)">${keyRows.length ? "no key matches the filter" : "no managed keys yet"}</td></tr>`) + "</tbody>");
  document.body.dataset.keys = String(Number(document.body.dataset.keys || 0) + 1);
}

function showSecret(what, name, text) {
  $("kSecretWhat").textContent = what;
  $("kSecretName").textContent = name;
  $("kSecretText").textContent = text;
  $("kCopied").textContent = "";
  $("kSecret").hidden = false;
  $("kCopy").focus();
}

$("kCreate").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("kError").textContent = "";
  const spec = { name: $("kName").value.trim() };
  const models = list($("kModels").value);
  if (models.length) spec.models = models;
  const limits = {}, rpm = $("kRpm").value.trim(), budget = $("kBudget").value.trim();
  if (rpm) limits.rpm = numberOr(rpm);
  if (budget) limits.budgets = [{ period: "day", usd: numberOr(budget) }];
  if (Object.keys(limits).length) spec.limits = limits;
  $("kSubmit").disabled = true;
  try {
    const made = await send("POST", "/admin/keys", spec);
    $("kCreate").reset();
    showSecret("New key", made.name, made.key);
    await poll();
  } catch (e) { failed(e, $("kError")); } finally { $("kSubmit").disabled = false; }
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
  const focus = (sel) => $("keyList").querySelector(sel)?.focus();
  if (b.dataset.edit) { openEditor("key", keyRows.find((k) => k.id === b.dataset.edit), b); return; }
  if (b.dataset.revoke || b.dataset.rotate) {
    confirming = { id: b.dataset.revoke || b.dataset.rotate, what: b.dataset.revoke ? "revoke" : "rotate" };
    drawKeys(); focus("button[data-confirm]"); return;
  }
  if (b.dataset.cancel) {
    const was = confirming; confirming = null; drawKeys();
    if (was) focus(`button[data-${was.what}="${CSS.escape(was.id)}"]`);
    return;
  }
  if (b.dataset.confirm) {
    const { id, what } = confirming;
    b.disabled = true;
    try {
      const done = await send("POST", `/admin/keys/${encodeURIComponent(id)}/${what}`);
      confirming = null;
      if (what === "rotate") showSecret("New secret for", done.name, done.key);
      await poll();
    } catch (e) { failed(e, $("kError")); b.disabled = false; }
  }
});
"""#
}
