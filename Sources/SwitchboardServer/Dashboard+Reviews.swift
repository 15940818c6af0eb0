extension Dashboard {
    /// Reviews: the requests held for a person (`/admin/reviews`, role `reviewer` or `admin`), filtered by status,
    /// each with its model, key, reason, age and time left before the deadline.
    static let reviewsMarkup = #"""
<div class="view" id="view-reviews" role="tabpanel" aria-labelledby="tab-reviews" hidden>
<section class="wide" aria-labelledby="reviewsTitle"><h2 id="reviewsTitle">Reviews <small class="sub">requests held for a person, newest first; Enter or click one to read it and decide</small></h2>
  <form class="filters" id="rvFilters" role="search" aria-label="Filter the reviews" autocomplete="off">
    <label>status <select id="rvStatus"><option selected>pending</option><option>approved</option><option>rejected</option><option>expired</option>
      <option>done</option><option value="">any</option></select></label>
  </form>
  <div class="scroll"><table id="reviewList"></table></div>
</section>
</div>
"""#

    /// One ticket: the held request (read-only) and an editable copy, a note, and the three decisions, each confirmed
    /// in the dialog before it is sent.
    static let reviewDialogMarkup = #"""
<dialog id="review" aria-labelledby="rvTitle">
  <h2 id="rvTitle">Review</h2>
  <dl class="fields" id="rvFields"></dl>
  <div class="rv-bodies">
    <div><h3 id="rvHeldTitle">Held request (as it would go upstream)</h3><pre class="body" id="rvHeld" aria-labelledby="rvHeldTitle" tabindex="0"></pre></div>
    <div><h3><label for="rvEdit">Editable copy (sent by “Approve with edits”)</label></h3><textarea class="body" id="rvEdit" spellcheck="false" autocomplete="off"></textarea></div>
  </div>
  <label class="rv-note">note (optional; kept with the decision, and a rejection's note is shown to the client)
    <input id="rvNote" maxlength="2000" autocomplete="off"></label>
  <div class="dialog-actions">
    <button type="button" id="rvApprove">Approve</button><button type="button" id="rvApproveEdits">Approve with edits</button>
    <button type="button" id="rvReject" class="danger">Reject</button><button type="button" id="rvClose">Close</button>
  </div>
  <div class="confirm" id="rvConfirm" role="group" aria-labelledby="rvAsk" hidden>
    <span id="rvAsk"></span> <button type="button" id="rvYes">Yes</button> <button type="button" id="rvNo">Cancel</button>
  </div>
  <p class="error" id="rvError" role="alert"></p>
  <p class="rv-result" id="rvResult" role="status"></p>
</dialog>
"""#

    static let reviewsScript = #"""
// Reviews. Everything a ticket holds (its request, reason, note, names) is put in the page as text, never as markup.
let reviewRows = [], reviewShape = "", reviewOpen = null, reviewAsk = null, reviewOpener = null;

// An element: attributes from `props` (`text` is its text, `cls` its class), then its children.
function node(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null) continue;
    if (k === "text") e.textContent = String(v); else if (k === "cls") e.className = v; else e.setAttribute(k, String(v));
  }
  e.append(...children.filter((c) => c != null));
  return e;
}
// A duration: "42 s", "3 min 5 s", "2 h 10 min", "3 days".
function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000)), m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (s < 60) return `${s} s`;
  if (m < 60) return `${m} min ${s % 60} s`;
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} days`;
}
// A ticket's time left: until its deadline while pending.
function timeLeft(t, now = Date.now()) {
  if (t.status !== "pending") return { text: "decided", cls: "dim" };
  const left = t.deadline_ms - now;
  return left > 0 ? { text: `${span(left)} left`, cls: left < 30000 ? "left-soon" : "" } : { text: "past the deadline", cls: "left-soon" };
}

refreshers.reviews = async () => {
  const q = new URLSearchParams({ limit: "200" }), status = $("rvStatus").value;
  if (status) q.set("status", status);
  reviewRows = (await api("/admin/reviews?" + q)).data;
  drawReviews();
};

// The table is built again only when its tickets or their statuses change; between, each poll updates the ages and
// the times left in place (a focused row keeps its focus).
function drawReviews() {
  const table = $("reviewList"), now = Date.now(), status = $("rvStatus").value;
  const shape = status + "|" + reviewRows.map((t) => t.id + ":" + t.status).join(",");
  if (shape !== reviewShape || !table.tBodies.length) {
    reviewShape = shape;
    const focused = document.activeElement?.closest?.("#reviewList tr[data-review]")?.dataset.review;
    const head = node("thead", {}, node("tr", {}, ...["held", "model", "key", "reason", "time left", "status"].map((h) => node("th", { text: h }))));
    const body = node("tbody");
    for (const t of reviewRows) {
      const decided = t.decided_by ? `by ${t.decided_by}` : null;
      body.append(node("tr", { cls: "pick", tabindex: 0, "data-review": t.id, "data-status": t.status, "data-fk": "review:" + t.id,
                               "aria-label": `Review ${t.id}: ${t.model}, key ${t.key_name}, ${t.status}` },
        node("td", { "data-age": "" }, node("span", {}), node("small", { cls: "sub", text: when(t.created_at_ms / 1000) })),
        node("td", { text: t.model }),
        node("td", {}, node("span", { text: t.key_name }), t.team ? node("small", { cls: "sub", text: `team ${t.team}` }) : null),
        node("td", { cls: "wrap", text: t.reason }),
        node("td", { "data-left": "" }),
        node("td", {}, node("span", { cls: "status-" + t.status, text: t.status }), decided ? node("small", { cls: "sub", text: decided }) : null)));
    }
    if (!reviewRows.length) body.append(node("tr", {}, node("td", { colspan: 6, cls: "dim", text: status ? `no ${status} reviews` : "no reviews yet" })));
    table.replaceChildren(head, body);
    if (focused) table.querySelector(`tr[data-review="${CSS.escape(focused)}"]`)?.focus();
  }
  for (const row of table.querySelectorAll("tr[data-review]")) {
    const t = reviewRows.find((x) => x.id === row.dataset.review), left = timeLeft(t, now);
    row.querySelector("[data-age] span").textContent = `${span(now - t.created_at_ms)} ago`;
    const cell = row.querySelector("[data-left]");
    cell.textContent = left.text;
    cell.className = left.cls;
  }
}

// The dialog: a ticket's fields, its request pretty-printed, and the decisions open while it is pending.
function showReview(t, fresh) {
  reviewOpen = t;
  reviewAsk = null;
  const pretty = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
  const fields = [["status", t.status], ["model", t.model], ["key", t.key_name + (t.team ? ` (team ${t.team})` : "")], ["reason", t.reason],
                  ["API", t.api === "anthropic" ? "Anthropic messages" : "OpenAI chat completions"],
                  ["held at", new Date(t.created_at_ms).toLocaleString()],
                  ["deadline", `${new Date(t.deadline_ms).toLocaleString()} (${timeLeft(t).text})`]];
  if (t.decided_by) fields.push(["decided by", t.decided_by], ["decided at", new Date(t.decided_at_ms).toLocaleString()]);
  if (t.note) fields.push(["note", t.note]);
  if (t.edited) fields.push(["sent instead", "the reviewer's edited request"]);
  $("rvTitle").textContent = `Review ${t.id}`;
  $("rvFields").replaceChildren(...fields.flatMap(([k, v]) => [node("dt", { text: k }), node("dd", { "data-field": k, text: v })]));
  $("rvHeld").textContent = pretty(t.request);
  if (fresh) $("rvEdit").value = pretty(t.edited ?? t.request);
  const pending = t.status === "pending";
  for (const id of ["rvApprove", "rvApproveEdits", "rvReject"]) $(id).disabled = !pending;
  $("rvEdit").readOnly = !pending;
  $("rvNote").disabled = !pending;
  $("rvConfirm").hidden = true;
  $("review").dataset.status = t.status;
}

async function openReview(id, opener) {
  reviewOpener = opener;
  let t;
  try { t = await api("/admin/reviews/" + encodeURIComponent(id)); } catch (e) { failed(e, $("status")); return; }
  $("rvNote").value = "";
  $("rvError").textContent = "";
  $("rvResult").textContent = "";
  delete $("review").dataset.result;
  showReview(t, true);
  if (!$("review").open) $("review").showModal();
  (t.status === "pending" ? $("rvApprove") : $("rvClose")).focus({ preventScroll: true });
  $("review").scrollTop = 0;
}

// A decision asks first, in the dialog; an edited request that is not a JSON object is refused here, and nothing is sent.
function askReview(what) {
  $("rvError").textContent = "";
  $("rvResult").textContent = "";
  const body = {}, note = $("rvNote").value.trim();
  if (note) body.note = note;
  if (what === "edits") {
    let edited;
    try { edited = JSON.parse($("rvEdit").value); } catch (e) {
      $("rvError").textContent = `The edited request is not valid JSON (${e.message}); nothing was sent.`;
      $("review").dataset.result = "invalid";
      $("rvEdit").focus();
      return;
    }
    if (edited === null || typeof edited !== "object" || Array.isArray(edited)) {
      $("rvError").textContent = "The edited request must be a JSON object (a whole request body); nothing was sent.";
      $("review").dataset.result = "invalid";
      $("rvEdit").focus();
      return;
    }
    body.request = edited;
  }
  reviewAsk = { what, body, id: reviewOpen.id };
  $("rvAsk").textContent = {
    approve: "Approve this request as it was sent?",
    edits: "Approve it and send your edited request instead?",
    reject: note ? "Reject this request? The client gets 403 with your note." : "Reject this request? The client gets 403 (no note given).",
  }[what];
  $("rvYes").textContent = what === "reject" ? "Yes, reject" : "Yes, approve";
  $("rvYes").className = what === "reject" ? "danger" : "";
  $("rvConfirm").hidden = false;
  $("rvYes").focus();
}

$("rvYes").addEventListener("click", async () => {
  const ask = reviewAsk;
  if (!ask) return;
  $("rvYes").disabled = true;
  try {
    const t = await send("POST", `/admin/reviews/${encodeURIComponent(ask.id)}/${ask.what === "reject" ? "reject" : "approve"}`, ask.body);
    showReview(t, false);
    $("rvResult").textContent = t.status === "rejected"
      ? `Rejected by ${t.decided_by}: the client gets 403 review_rejected${t.note ? ` with the note “${t.note}”` : ""}.`
      : `Approved by ${t.decided_by}${t.edited ? ", with your edits" : ""}: the request goes on to the model and the client gets its answer.`;
    $("review").dataset.result = t.status;
    $("rvClose").focus();
  } catch (e) {
    $("rvConfirm").hidden = true;
    reviewAsk = null;
    if (e.status === 409) {
      // The ticket as it is now, then the message (and the result last: it is what a test waits for).
      try { showReview(await api("/admin/reviews/" + encodeURIComponent(ask.id)), false); } catch (e2) { if (e2 instanceof AuthError) { lost(e2); return; } }
      $("rvError").textContent = `Already decided (409): ${e.message}`;
      $("review").dataset.result = "conflict";
      $("rvClose").focus();
    } else failed(e, $("rvError"));
  } finally { $("rvYes").disabled = false; }
  if (key && state.view === "reviews") poll();
});
$("rvNo").addEventListener("click", () => {
  const was = reviewAsk && { approve: "rvApprove", edits: "rvApproveEdits", reject: "rvReject" }[reviewAsk.what];
  reviewAsk = null;
  $("rvConfirm").hidden = true;
  if (was) $(was).focus();
});
$("rvApprove").addEventListener("click", () => askReview("approve"));
$("rvApproveEdits").addEventListener("click", () => askReview("edits"));
$("rvReject").addEventListener("click", () => askReview("reject"));
$("rvClose").addEventListener("click", () => $("review").close());
$("review").addEventListener("close", () => { reviewOpen = null; reviewAsk = null; refocus(reviewOpener); reviewOpener = null; });
$("rvFilters").addEventListener("submit", (ev) => ev.preventDefault());
$("rvFilters").addEventListener("change", () => poll());
$("reviewList").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-review]");
  if (row) openReview(row.dataset.review, row);
});
$("reviewList").addEventListener("keydown", (ev) => {
  const row = ev.target.closest("tr[data-review]");
  if (row && ev.target === row && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); openReview(row.dataset.review, row); }
});
onApply.push(() => { if (state.view !== "reviews" && $("review").open) $("review").close(); });
"""#
}
