extension Dashboard {
    /// Teams: the list with each team's limits, spend against its budgets and member keys; create, edit (the shared
    /// editor dialog) and delete (confirmed in the page; the API refuses a team that still has active keys).
    static let teamsMarkup = #"""
<div class="view" id="view-teams" role="tabpanel" aria-labelledby="tab-teams" hidden>
<section class="wide" aria-labelledby="teamsTitle"><h2 id="teamsTitle">Teams</h2>
  <form id="tCreate" class="keyform" autocomplete="off">
    <label>name <input id="tName" required placeholder="e.g. research"></label>
    <label>models (comma-separated) <input id="tModels" placeholder="all"></label>
    <label>requests / min <input id="tRpm" inputmode="numeric" placeholder="no limit"></label>
    <label>tokens / min <input id="tTpm" inputmode="numeric" placeholder="no limit"></label>
    <label>daily budget (USD) <input id="tDay" inputmode="decimal" placeholder="none"></label>
    <label>monthly budget (USD) <input id="tMonth" inputmode="decimal" placeholder="none"></label>
    <button type="submit" id="tSubmit">Create team</button>
  </form>
  <p class="error" id="tError" role="alert"></p>
  <div class="filters"><input id="tFilter" placeholder="filter teams" aria-label="filter teams"></div>
  <div class="scroll"><table id="teamList"></table></div>
</section>
</div>
"""#

    static let teamsScript = #"""
// /admin/teams, each team's spend per period from /admin/teams/{name}, and its active keys from /admin/keys.
let teamRows = [], teamSpend = {}, teamMembers = {}, teamConfirm = null;
refreshers.teams = async () => {
  const [teams, keys] = await Promise.all([api("/admin/teams"), api("/admin/keys")]);
  teamRows = teams.data.sort((a, b) => (a.name < b.name ? -1 : 1));
  teamMembers = {};
  for (const k of keys.data) if (k.team && k.status === "active") teamMembers[k.team] = (teamMembers[k.team] || 0) + 1;
  const details = await Promise.all(teamRows.slice(0, 100).map((t) => api("/admin/teams/" + encodeURIComponent(t.name)).catch((e) => { if (e instanceof AuthError) throw e; return null; })));
  teamSpend = Object.fromEntries(details.filter(Boolean).map((t) => [t.name, t.spend]));
  drawTeams();
};

function drawTeams() {
  const q = $("tFilter").value.trim().toLowerCase();
  const rows = teamRows.filter((t) => !q || [t.name, ...(t.models || [])].some((v) => String(v).toLowerCase().includes(q)));
  const head = ["team", "models", "rate limits", "budgets", "member keys", ""], cls = ["", "", "opt", "", "num", ""];
  const body = rows.map((t) => {
    const name = esc(t.name), lim = t.limits || {};
    const action = teamConfirm === t.name
      ? `<span>Delete ${name}?</span> <button type="button" class="danger" data-tconfirm="${name}" data-fk="tconfirm:${name}">Yes, delete</button> ` +
        `<button type="button" data-tcancel="${name}" data-fk="tcancel:${name}">Cancel</button>`
      : `<button type="button" data-tedit="${name}" data-fk="tedit:${name}" aria-label="Edit team ${name}">Edit</button> ` +
        `<button type="button" data-tdelete="${name}" data-fk="tdelete:${name}" aria-label="Delete team ${name}">Delete</button>`;
    const rates = [lim.rpm ? `${fmt(lim.rpm)} rpm` : "", lim.tpm ? `${fmt(lim.tpm)} tpm` : "", lim.max_concurrent ? `${lim.max_concurrent} at once` : ""].filter(Boolean).join(", ");
    const cells = [`<span class="trunc">${name}</span>`, `<span class="trunc">${esc((t.models || []).length ? t.models.join(", ") : "all")}</span>`,
                   esc(rates || "none"), budgetBars(lim, teamSpend[t.name]), esc(fmt(teamMembers[t.name] || 0)), `<div class="actions">${action}</div>`];
    return `<tr data-team="${name}">` + cells.map((c, i) => `<td class="${cls[i]}">${c}</td>`).join("") + "</tr>";
  }).join("");
  render($("teamList"), "<thead><tr>" + head.map((h, i) => `<th class="${cls[i]}">${esc(h)}</th>`).join("") + "</tr></thead><tbody>" +
    (body || `<tr><td colspan="${head.length}" style="color:var(--dim)">${teamRows.length ? "no team matches the filter" : "no teams yet"}</td></tr>`) + "</tbody>");
}

$("tCreate").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("tError").textContent = "";
  const spec = { name: $("tName").value.trim() }, limits = {};
  const models = list($("tModels").value);
  if (models.length) spec.models = models;
  const v = (id) => $(id).value.trim();
  if (v("tRpm")) limits.rpm = numberOr(v("tRpm"));
  if (v("tTpm")) limits.tpm = numberOr(v("tTpm"));
  const budgets = [["day", v("tDay")], ["month", v("tMonth")]].filter(([, usd]) => usd).map(([period, usd]) => ({ period, usd: numberOr(usd) }));
  if (budgets.length) limits.budgets = budgets;
  if (Object.keys(limits).length) spec.limits = limits;
  $("tSubmit").disabled = true;
  try {
    await send("POST", "/admin/teams", spec);
    $("tCreate").reset();
    await poll();
    $("tName").focus();
  } catch (e) { failed(e, $("tError")); } finally { $("tSubmit").disabled = false; }
});
$("tFilter").addEventListener("input", drawTeams);
$("teamList").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  $("tError").textContent = "";
  const focus = (sel) => $("teamList").querySelector(sel)?.focus();
  if (b.dataset.tedit) { openEditor("team", teamRows.find((t) => t.name === b.dataset.tedit), b); return; }
  if (b.dataset.tdelete) { teamConfirm = b.dataset.tdelete; drawTeams(); focus("button[data-tconfirm]"); return; }
  if (b.dataset.tcancel) { teamConfirm = null; drawTeams(); focus(`button[data-tdelete="${CSS.escape(b.dataset.tcancel)}"]`); return; }
  if (b.dataset.tconfirm) {
    b.disabled = true;
    try { await send("DELETE", "/admin/teams/" + encodeURIComponent(b.dataset.tconfirm)); teamConfirm = null; await poll(); $("tName").focus(); } catch (e) {
      teamConfirm = null; drawTeams(); failed(e, $("tError"));
    }
  }
});
"""#
}
