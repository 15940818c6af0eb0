extension Dashboard {
    /// The editor dialog shared by keys and teams: models, rate limits and a budget per period (and a key's team and
    /// expiry), sent with PATCH; the API's errors are shown in the form.
    static let editorScript = #"""
let editing = null;
// A local time for <input type="datetime-local">.
function localInput(iso) {
  const d = new Date(iso), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function openEditor(kind, rec, opener) {
  if (!rec) return;
  editing = { kind, rec, opener };
  $("edTitle").textContent = `Edit ${kind} ${rec.name}`;
  for (const l of $("edForm").querySelectorAll("[data-for=key]")) l.hidden = kind !== "key";
  const lim = rec.limits || {};
  $("edModels").value = (rec.models || []).join(", ");
  $("edTeam").value = rec.team ?? "";
  $("edExpiry").value = rec.expires_at ? localInput(rec.expires_at) : "";
  editing.expiry = $("edExpiry").value;
  $("edRpm").value = lim.rpm ?? "";
  $("edTpm").value = lim.tpm ?? "";
  for (const p of PERIODS) $("edBudget-" + p).value = (lim.budgets || []).find((b) => b.period === p)?.usd ?? "";
  $("edError").textContent = "";
  $("editor").showModal();
  $("edModels").focus();
}

// The limits as edited: rpm, tpm and the budgets from the form; what the form does not show (max_concurrent,
// per-model rates, a budget's alert that is still below it) stays as it was.
function editedLimits(old) {
  const lim = { ...(old || {}) };
  delete lim.rpm; delete lim.tpm; delete lim.budgets;
  const rpm = $("edRpm").value.trim(), tpm = $("edTpm").value.trim();
  if (rpm) lim.rpm = numberOr(rpm);
  if (tpm) lim.tpm = numberOr(tpm);
  const budgets = PERIODS.map((p) => {
    const v = $("edBudget-" + p).value.trim();
    if (!v) return null;
    const b = { period: p, usd: numberOr(v) }, was = ((old && old.budgets) || []).find((x) => x.period === p);
    if (was && was.alert_usd != null && Number(v) >= was.alert_usd) b.alert_usd = was.alert_usd;
    return b;
  }).filter(Boolean);
  if (budgets.length) lim.budgets = budgets;
  return lim;
}

$("edForm").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const { kind, rec } = editing;
  const body = { models: list($("edModels").value), limits: editedLimits(rec.limits) };
  if (kind === "key") {
    body.team = $("edTeam").value.trim() || null;
    const expiry = $("edExpiry").value;
    if (expiry !== editing.expiry) body.expires_at = expiry ? new Date(expiry).toISOString() : null;
  }
  const path = kind === "key" ? `/admin/keys/${encodeURIComponent(rec.id)}` : `/admin/teams/${encodeURIComponent(rec.name)}`;
  $("edError").textContent = "";
  $("edSave").disabled = true;
  try {
    await send("PATCH", path, body);
    $("editor").close();
    await poll();
  } catch (e) { failed(e, $("edError")); } finally { $("edSave").disabled = false; }
});
$("edCancel").addEventListener("click", () => $("editor").close());
$("editor").addEventListener("close", () => { if (editing) refocus(editing.opener); });
"""#
}
