/// The dashboard at `/ui`: one page of plain HTML, CSS and JavaScript served from the binary. It holds no data
/// itself: it asks for an admin key (telling an unknown key, 401, from one without the admin role, 403), keeps it in
/// the tab's session storage, and polls the admin API every 2 s (`/admin/analytics`, `/admin/health`, `/admin/logs`),
/// drawing its charts as SVG with a local-time axis and a labelled scale. Models and providers are the ones that
/// served each request; requests refused before any provider was tried are a "refused" series and row of their own.
enum Dashboard {
    /// The page: its markup and style here, its script in Dashboard+Script.swift.
    static let html = markup + "\n" + script + "\n</script>\n</body>\n</html>"

    static let markup = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard</title>
<style>
  :root { --bg: #0f1419; --panel: #171e26; --line: #2a3441; --text: #d9e1ea; --dim: #8a97a6; --ok: #4cc38a; --bad: #e5534b; --warn: #d6a23a; --accent: #5aa9e6; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .status { color: var(--dim); margin-left: auto; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 16px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; }
  .scroll { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
  th { color: var(--dim); font-weight: 500; white-space: normal; vertical-align: bottom; }
  td.num, th.num { text-align: right; }
  .trunc { display: inline-block; max-width: 16em; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
  small.sub { display: block; color: var(--dim); font-size: 12px; font-style: normal; white-space: normal; overflow-wrap: break-word; }
  tr.refused td { color: var(--dim); font-style: italic; }
  .state-closed { color: var(--ok); } .state-open, .state-down { color: var(--bad); } .state-half_open, .state-cooling_down { color: var(--warn); }
  .s2 { color: var(--ok); } .s4 { color: var(--warn); } .s5 { color: var(--bad); }
  svg.chart { width: 100%; height: 180px; display: block; }
  svg.chart text { fill: var(--dim); font-size: 11px; }
  svg.chart line.grid { stroke: var(--line); }
  svg.chart line.tick { stroke: var(--dim); }
  .legend span { margin-right: 12px; font-size: 12px; white-space: nowrap; }
  form#login { max-width: 420px; margin: 80px auto; background: var(--panel); padding: 20px; border-radius: 8px; border: 1px solid var(--line); }
  input, select, button { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; font: inherit; }
  button { cursor: pointer; }
  .filters { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; }
  .error { color: var(--bad); }
  .keyform { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin-bottom: 8px; }
  .keyform label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--dim); }
  .keyform input { width: 11em; max-width: 100%; }
  .secret { border: 1px solid var(--warn); border-radius: 6px; padding: 8px 10px; margin-bottom: 8px; }
  .secret code { display: block; overflow-wrap: anywhere; font-size: 13px; margin: 4px 0; user-select: all; }
  .status-active { color: var(--ok); } .status-revoked { color: var(--bad); } .status-expired { color: var(--warn); }
  button.danger { border-color: var(--bad); color: var(--bad); }
  button:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
  @media (max-width: 640px) {
    header { padding: 10px 12px; }
    main { padding: 12px; gap: 12px; }
    section { padding: 10px; }
    form#login { margin: 24px 12px; }
    table { font-size: 13px; }
    th, td { padding: 4px 3px; }
    .opt { display: none; }
    .trunc { max-width: 8em; }
    small.sub { overflow-wrap: anywhere; }
  }
</style>
</head>
<body>
<header><h1>Switchboard</h1><span id="summary"></span><span class="status" id="status">not connected</span>
  <button id="logout" hidden>Forget key</button></header>
<form id="login" hidden>
  <h2>Admin key</h2>
  <p>The dashboard reads the admin API with a key that has the <code>admin</code> role (or the master key). It stays in
  this tab only.</p>
  <input id="key" type="password" placeholder="sk-…" style="width:100%" autocomplete="off">
  <p><button type="submit">Open</button></p>
  <p class="error" id="loginError" role="alert"></p>
</form>
<main id="board" hidden>
  <section><h2>Requests per minute, by model (last 30 min)</h2><svg class="chart" id="chartRate" data-series="requests"></svg><div class="legend" id="legendRate"></div></section>
  <section><h2>p95 latency, by model</h2><svg class="chart" id="chartLatency" data-series="p95_latency_ms"></svg><div class="legend" id="legendLatency"></div></section>
  <section><h2>Errors per minute, by model</h2><svg class="chart" id="chartErrors" data-series="errors"></svg><div class="legend" id="legendErrors"></div></section>
  <section><h2>Cost (USD) per minute, by model</h2><svg class="chart" id="chartCost" data-series="cost_usd"></svg><div class="legend" id="legendCost"></div></section>
  <section><h2>By model (last 30 min)</h2><div class="scroll"><table id="models"></table></div></section>
  <section><h2>By provider (last 30 min)</h2><div class="scroll"><table id="providers"></table></div></section>
  <section><h2>Provider health</h2><div class="scroll"><table id="health"></table></div></section>
  <section><h2>Top keys by spend (last 24 h)</h2><div class="scroll"><table id="keys"></table></div></section>
  <section class="wide"><h2>Request log</h2>
    <div class="filters"><input id="fModel" placeholder="model"><select id="fStatus"><option value="">any status</option><option>2xx</option><option>4xx</option><option>5xx</option><option>429</option></select></div>
    <div class="scroll"><table id="log"></table></div></section>
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
      <strong>New key <span id="kSecretName"></span></strong>
      <code id="kSecretText"></code>
      <button type="button" id="kCopy">Copy</button> <button type="button" id="kDone">Done</button> <span id="kCopied"></span>
      <small class="sub">This is the only time the key is shown: copy it now. It will not be shown again (rotate the key if it is lost).</small>
    </div>
    <div class="filters"><input id="kFilter" placeholder="filter keys" aria-label="filter keys"></div>
    <div class="scroll"><table id="keyList"></table></div></section>
</main>
<script>
"""#
}
