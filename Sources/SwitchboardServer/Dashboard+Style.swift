extension Dashboard {
    /// The page's style sheet: dark panels in a grid, tables that scroll inside their panel, one column on a phone.
    static let style = #"""
<style>
  :root { --bg: #0f1419; --panel: #171e26; --line: #2a3441; --text: #d9e1ea; --dim: #8a97a6; --ok: #4cc38a; --bad: #e5534b; --warn: #d6a23a; --accent: #5aa9e6; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .status { color: var(--dim); margin-left: auto; }
  main { padding: 0 20px 16px; }
  nav.tabs { display: flex; flex-wrap: wrap; gap: 4px; padding: 12px 0; }
  nav.tabs button { border-radius: 6px 6px 0 0; border-bottom: 2px solid transparent; }
  nav.tabs button[aria-selected="true"] { border-bottom-color: var(--accent); color: #fff; background: var(--panel); }
  .view { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 16px; }
  .toolbar { grid-column: 1 / -1; display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; color: var(--dim); font-weight: 600; }
  h3 { font-size: 14px; margin: 12px 0 6px; }
  .scroll { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
  th { color: var(--dim); font-weight: 500; white-space: normal; vertical-align: bottom; }
  td.num, th.num { text-align: right; }
  tr.pick { cursor: pointer; }
  tr.pick:hover td { background: #1d2631; }
  .trunc { display: inline-block; max-width: 16em; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
  small.sub { display: block; color: var(--dim); font-size: 12px; font-style: normal; white-space: normal; overflow-wrap: break-word; }
  tr.refused td { color: var(--dim); font-style: italic; }
  td.dim { color: var(--dim); }
  .state-closed, .state-up { color: var(--ok); } .state-open, .state-down { color: var(--bad); } .state-half_open, .state-cooling_down { color: var(--warn); }
  .s2 { color: var(--ok); } .s4 { color: var(--warn); } .s5 { color: var(--bad); }
  svg.chart, svg.spark { width: 100%; height: 180px; display: block; }
  svg.spark { height: 90px; }
  svg.chart text, svg.spark text { fill: var(--dim); font-size: 11px; }
  svg.chart line.grid, svg.spark line.grid { stroke: var(--line); }
  svg.chart line.tick, svg.spark line.tick { stroke: var(--dim); }
  .legend { display: flex; flex-wrap: wrap; gap: 0 12px; }
  .legend span { font-size: 12px; white-space: nowrap; }
  .note { color: var(--warn); font-size: 12px; }
  form#login { max-width: 420px; margin: 80px auto; background: var(--panel); padding: 20px; border-radius: 8px; border: 1px solid var(--line); }
  input, select, button { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; font: inherit; }
  button { cursor: pointer; }
  button.link { background: none; border: 0; padding: 0; color: var(--accent); text-align: left; }
  button.small { padding: 2px 6px; font-size: 12px; }
  .range { display: flex; flex-wrap: wrap; gap: 4px; }
  .range button[aria-pressed="true"] { border-color: var(--accent); color: #fff; background: #1d3a52; }
  .chip { display: inline-flex; align-items: center; gap: 6px; border: 1px solid var(--accent); border-radius: 12px; padding: 2px 4px 2px 10px; }
  .chip button { border-radius: 10px; padding: 0 6px; }
  .filters { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; align-items: flex-end; }
  .error { color: var(--bad); }
  .keyform { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin-bottom: 8px; }
  .keyform label, .filters label, .grid2 label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--dim); }
  .keyform input, .filters input, .filters select { width: 11em; max-width: 100%; }
  .keyform input#kModels { width: 16em; }
  .secret { border: 1px solid var(--warn); border-radius: 6px; padding: 8px 10px; margin-bottom: 8px; }
  .secret code { display: block; overflow-wrap: anywhere; font-size: 13px; margin: 4px 0; user-select: all; }
  .status-active { color: var(--ok); } .status-revoked { color: var(--bad); } .status-expired { color: var(--warn); }
  button.danger { border-color: var(--bad); color: var(--bad); }
  .actions { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; white-space: normal; }
  .budget { min-width: 11em; font-size: 12px; white-space: normal; }
  .budget .bar { height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; margin: 2px 0; }
  .budget .bar span { display: block; height: 100%; background: var(--ok); }
  .budget.over .bar span { background: var(--bad); } .budget.near .bar span { background: var(--warn); }
  dialog { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 8px; padding: 16px;
           width: min(900px, calc(100vw - 16px)); max-width: calc(100vw - 16px); max-height: calc(100vh - 32px); overflow: auto; }
  dialog::backdrop { background: rgba(0, 0, 0, 0.6); }
  dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
  dl.fields dt { color: var(--dim); } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
  pre.body { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 8px; white-space: pre-wrap;
             overflow-wrap: anywhere; max-height: 40vh; overflow: auto; font-size: 12px; margin: 0; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 12em), 1fr)); gap: 8px; margin-bottom: 8px; }
  .grid2 input { width: 100%; }
  .dialog-actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 12px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap: 12px; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0; }
  .facts { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 12px; color: var(--dim); }
  .facts b { color: var(--text); font-weight: 500; }
  .facts .warn b { color: var(--warn); } .facts .error b { color: var(--bad); }
  #ruleList td.wrap { white-space: normal; overflow-wrap: anywhere; }
  #pricingFacts { margin-top: 8px; }
  svg.timeline { width: 100%; height: 16px; display: block; border-radius: 3px; margin: 4px 0 2px; }
  .tl-closed, .tl-up { fill: var(--ok); } .tl-open, .tl-down { fill: var(--bad); } .tl-half_open, .tl-cooling_down { fill: var(--warn); }
  .axis-ends { display: flex; justify-content: space-between; font-size: 11px; color: var(--dim); }
  details summary { cursor: pointer; color: var(--dim); font-size: 12px; }
  details ol { margin: 4px 0; padding-left: 18px; font-size: 12px; }
  p.denied { background: var(--panel); border: 1px solid var(--bad); border-radius: 8px; padding: 12px 14px; margin: 0; }
  #reviewList td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 14em; }
  .left-soon { color: var(--warn); }
  .status-pending { color: var(--warn); } .status-approved, .status-done { color: var(--ok); } .status-rejected { color: var(--bad); }
  .rv-bodies pre.body { height: 40vh; }
  .rv-bodies { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 320px), 1fr)); gap: 0 12px; }
  textarea.body { display: block; width: 100%; height: 40vh; background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px;
                  padding: 8px; font: 12px/1.4 ui-monospace, monospace; resize: vertical; }
  .rv-note { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--dim); margin-top: 10px; }
  .rv-note input { width: 100%; }
  .confirm { border: 1px solid var(--warn); border-radius: 6px; padding: 8px 10px; margin-top: 8px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
  .rv-result { color: var(--ok); }
  button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible, tr:focus-visible, [tabindex]:focus-visible {
    outline: 2px solid var(--accent); outline-offset: 1px; }
  @media (max-width: 640px) {
    header { padding: 10px 12px; }
    main { padding: 0 12px 12px; }
    .view { gap: 12px; }
    section { padding: 10px; }
    form#login { margin: 24px 12px; }
    table { font-size: 13px; }
    th, td { padding: 4px 3px; }
    .opt { display: none; }
    .trunc { max-width: 8em; }
    small.sub { overflow-wrap: anywhere; }
    dialog { padding: 10px; }
    dl.fields { grid-template-columns: 1fr; } dl.fields dd { margin-bottom: 4px; }
  }
</style>
"""#
}
