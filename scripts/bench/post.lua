-- wrk script for the Switchboard benchmark: POST a chat completion request and print a parseable summary.
-- Environment: BENCH_BODY (request body), BENCH_AUTH (Authorization header value; empty = none),
-- BENCH_INTERVAL_MS (optional: pace each connection to one request per ~N ms, see delay() below).
local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then
  body = '{"model":"bench","messages":[{"role":"user","content":"Say hello to the benchmark in one short sentence."}],"max_tokens":16}'
end
local auth = os.getenv("BENCH_AUTH") or "Bearer sk-bench"

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- Fixed-rate mode: each connection waits a random 0..2N-1 ms before every request (mean ~N ms),
-- so C connections send ~C*1000/N requests/s spread out in time rather than in synchronized bursts.
-- wrk starts its latency clock when the request is written, after the delay.
local interval = tonumber(os.getenv("BENCH_INTERVAL_MS") or "")
if interval ~= nil and interval > 0 then
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  local span = math.floor(2 * interval)
  function delay()
    return math.random(0, span - 1)
  end
end

-- One line, key=value pairs, latencies in microseconds; bench.sh parses it.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_WRK requests=%d duration_us=%d bytes=%d rps=%.2f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
