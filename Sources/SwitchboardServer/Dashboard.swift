/// The console at `/ui`: one page of plain HTML, CSS and JavaScript served from the binary, with no external assets
/// and nothing inline but the one style sheet and the one script (the CSP in buildRouter allows no more). It holds no
/// data itself: it asks for an admin key (telling an unknown key, 401, from one without the admin role, 403), keeps it
/// in the tab's session storage, and reads the admin API for the view on screen, every 2 to 5 s. A key with the
/// `reviewer` role (and not `admin`) opens the Reviews view; the other views tell it they need an admin key.
///
/// - Overview: charts over a chosen range (15 min to 30 days) with a local-time axis, by model, provider, key and
///   routing rule, with drill-down to one model or provider, and the recent requests;
/// - Requests: the request log with filters, paging and a detail view with the bodies (when `logging.bodies` keeps them);
/// - Keys and Teams: create, edit limits, budgets and models, rotate and revoke keys, delete teams; spend against budgets;
/// - Providers & models: the routing rules and the pricing source's state, the running configuration (secrets masked
///   by the API), each deployment's health timeline, ejections, prices and latency;
/// - Reviews: the requests held for a person, with their held request; approve (as sent or edited) or reject them.
///
/// The view, range and drill-down live in the URL's hash (`#view=keys`), so reload and back work.
enum Dashboard {
    /// The page: the shell here, each view's markup and script in its own file.
    static let html = [
        head, style, "</head>\n<body>", shell, overviewMarkup, requestsMarkup, keysMarkup, teamsMarkup, providersMarkup, reviewsMarkup,
        "</main>", dialogsMarkup, reviewDialogMarkup, "<script>", coreScript, chartScript, overviewScript, requestsScript, keysScript,
        editorScript, teamsScript, providersScript, reviewsScript, bootScript, "</script>\n</body>\n</html>",
    ].joined(separator: "\n")

    static let head = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard</title>
"""#

    /// The header, the key prompt and the tab bar; `main` stays hidden until a key has been accepted.
    static let shell = #"""
<header><h1>Switchboard</h1><span id="summary"></span><span class="status" id="status" role="status">not connected</span>
  <button id="logout" hidden>Forget key</button></header>
<form id="login" hidden>
  <h2>Admin key</h2>
  <p>The console reads the admin API with a key that has the <code>admin</code> role (or the master key); a key with
  the <code>reviewer</code> role opens its Reviews view. The key stays in this tab only.</p>
  <label for="key">Key</label>
  <input id="key" type="password" placeholder="sk-…" style="width:100%" autocomplete="off">
  <p><button type="submit">Open</button></p>
  <p class="error" id="loginError" role="alert"></p>
</form>
<main id="board" hidden>
<nav class="tabs" role="tablist" aria-label="Console views" id="tabs">
  <button type="button" role="tab" id="tab-overview" data-view="overview" aria-controls="view-overview" aria-selected="true">Overview</button>
  <button type="button" role="tab" id="tab-requests" data-view="requests" aria-controls="view-requests" aria-selected="false" tabindex="-1">Requests</button>
  <button type="button" role="tab" id="tab-keys" data-view="keys" aria-controls="view-keys" aria-selected="false" tabindex="-1">Keys</button>
  <button type="button" role="tab" id="tab-teams" data-view="teams" aria-controls="view-teams" aria-selected="false" tabindex="-1">Teams</button>
  <button type="button" role="tab" id="tab-providers" data-view="providers" aria-controls="view-providers" aria-selected="false" tabindex="-1">Providers &amp; models</button>
  <button type="button" role="tab" id="tab-reviews" data-view="reviews" aria-controls="view-reviews" aria-selected="false" tabindex="-1">Reviews</button>
</nav>
<p class="error denied" id="denied" role="alert" hidden></p>
"""#

    /// The range picker, one in each view that has a time range (they share the state).
    static let rangePicker = #"""
<div class="range" role="group" aria-label="Time range">
  <button type="button" data-range="15m">15 min</button><button type="button" data-range="1h">1 h</button><button type="button" data-range="6h">6 h</button><button type="button" data-range="24h">24 h</button><button type="button" data-range="7d">7 days</button><button type="button" data-range="30d">30 days</button>
</div>
"""#

    /// The request detail and the key/team editor: modal dialogs (Escape closes them; focus goes back to the opener).
    static let dialogsMarkup = #"""
<dialog id="detail" aria-labelledby="detailTitle">
  <h2 id="detailTitle">Request</h2>
  <dl class="fields" id="detailFields"></dl>
  <h3>Request body</h3><pre class="body" id="detailRequest"></pre>
  <h3>Response body</h3><pre class="body" id="detailResponse"></pre>
  <div class="dialog-actions"><button type="button" id="detailClose">Close</button></div>
</dialog>
<dialog id="editor" aria-labelledby="edTitle">
  <form id="edForm" autocomplete="off">
    <h2 id="edTitle">Edit</h2>
    <div class="grid2">
      <label>models (comma-separated, empty: all) <input id="edModels" placeholder="all"></label>
      <label data-for="key">team (empty: none) <input id="edTeam" list="teamNames" placeholder="none"></label>
      <label data-for="key">expires (local time, empty: never) <input id="edExpiry" type="datetime-local"></label>
      <label>requests / min <input id="edRpm" inputmode="numeric" placeholder="no limit"></label>
      <label>tokens / min <input id="edTpm" inputmode="numeric" placeholder="no limit"></label>
    </div>
    <div class="grid2" role="group" aria-label="Budgets in USD per period">
      <label>daily budget (USD) <input id="edBudget-day" inputmode="decimal" placeholder="none"></label>
      <label>weekly budget (USD) <input id="edBudget-week" inputmode="decimal" placeholder="none"></label>
      <label>monthly budget (USD) <input id="edBudget-month" inputmode="decimal" placeholder="none"></label>
      <label>total budget (USD) <input id="edBudget-total" inputmode="decimal" placeholder="none"></label>
    </div>
    <p class="error" id="edError" role="alert"></p>
    <div class="dialog-actions"><button type="button" id="edCancel">Cancel</button><button type="submit" id="edSave">Save</button></div>
  </form>
</dialog>
<datalist id="teamNames"></datalist><datalist id="modelNames"></datalist>
"""#
}
