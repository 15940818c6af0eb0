# shellcheck shell=bash
# Many open streams: sourced by scripts/bench.sh before its report (uses its rec, log, die, free_ports, render,
# start_server / STARTED_PID, CLIENT_PIN, TMP, CONF_DIR, SWITCHBOARD_BIN, HAVE_SW, cpu_ticks, CLK_TCK). Runs only with SCALE=1 or
# SCALE_STREAMS=N set.
#
#   SCALE_STREAMS=10000    concurrent slow streams (the mock provider sends one chunk per second, SCALE_TOKENS of them)
#   SCALE_IDLE_CONNS=5000  idle keep-alive client connections (one GET /healthz each, then left open)
#   SCALE_RATE=2000        new connections per second at most (keeps the listen backlog out of the picture)
#   SCALE_TOKENS=30        tokens per stream (one per second): how long each stream stays open (long enough for all
#                          of them to be open at once, with the probes)
#   SCALE_PROBES=100       once all streams are open, this many more at 50/s: TTFB on a busy server (not while opening)
#   SCALE_NOFILE=65536     descriptor limit (soft and hard) set for the processes started here (raised to 2 x streams + 256;
#                          if the hard limit cannot be raised that far the run stops, unless SCALE_FORCE=1)
#
# Steps: (0) raise `ulimit -n`; start the slow upstream (`switchboard mock-provider --tokens-per-s 1`) and check it
# sends one event per second; (1) SCALE_STREAMS streams straight to the mock (the reference TTFB); (2) the same
# through a fresh Switchboard (the mock as an `openai` provider, storage memory), its RSS read before, while all
# streams are open, at its peak and after, its descriptors and its upstream connections counted; (3) a fresh
# Switchboard with SCALE_IDLE_CONNS idle keep-alive connections: RSS delta / connections; (4) one with
# server.max_connections 50 and 80 connections: what a client past the limit gets.

SCALE=${SCALE:-0}
[[ -n ${SCALE_STREAMS:-} ]] && SCALE=1

scale_stop() { # scale_stop PID: TERM a server started here, wait for it
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# scale_client OUT ARGS... : scale.py pinned to the client CPU; its JSON to OUT
scale_client() {
    local out=$1
    shift
    "${CLIENT_PIN[@]}" timeout 600 python3 "$CONF_DIR/scale.py" "$@" --out "$out" >/dev/null 2>"$out.log" ||
        { tail -n 20 "$out.log" >&2; die "scale.py $1 failed (log above)"; }
    grep '^\[scale' "$out.log" | sed 's/^/  /' >&2 || true
}

# scale_rec_streams JSON TARGET : records a streams run
scale_rec_streams() {
    local kv
    while IFS= read -r kv; do rec "${kv%%=*}" "${kv#*=}"; done < <(python3 - "$1" "$2" <<'EOF'
import json, sys
r, t = json.load(open(sys.argv[1])), sys.argv[2]
def f(v, spec="{:.3f}"):
    return "" if v is None else spec.format(v)
print(f"scale_streams_started.{t}={r['started']}")
print(f"scale_streams_ok.{t}={r['ok']}")
print(f"scale_streams_failed.{t}={r['failed']}")
print(f"scale_streams_failures.{t}=" + (",".join(f"{k}:{v}" for k, v in r["failure_reasons"].items()) or "none"))
for p in ("p50", "p99", "max"):
    print(f"scale_ttfb_{p}_ms.{t}={f(r['ttfb_ms'][p])}")
pr = r["probe"]
if pr["started"]:
    print(f"scale_probe_ok.{t}={pr['ok']}")
    print(f"scale_probe_failures.{t}=" + (",".join(f"{k}:{v}" for k, v in pr["failure_reasons"].items()) or "none"))
    for p in ("p50", "p99", "max"):
        print(f"scale_probe_ttfb_{p}_ms.{t}={f(pr['ttfb_ms'][p])}")
print(f"scale_connect_p99_ms.{t}={f(r['connect_ms']['p99'])}")
print(f"scale_client_lag_p99_ms.{t}={f(r['client_loop_lag_ms']['p99'])}")
print(f"scale_peak_open.{t}={r['peak_open_streams']}")
print(f"scale_duration_s.{t}={r['duration_s']}")
s = r.get("server")
if s:
    mb = lambda kb: "" if kb is None else f"{kb / 1024:.1f}"
    b, o, a = s["before"], s["all_open"], s["after"]
    print(f"scale_rss_before_mb.{t}={mb(b['vm_rss_kb'])}")
    print(f"scale_rss_open_mb.{t}={mb(o['vm_rss_kb'])}")
    print(f"scale_rss_peak_mb.{t}={mb(max(a['vm_hwm_kb'] or 0, s['max_vm_rss_kb_sampled']))}")
    print(f"scale_rss_after_mb.{t}={mb(a['vm_rss_kb'])}")
    print(f"scale_fds_open.{t}={o['fds']}")
    # memory per stream from the reading with the most streams open: the "all open" snapshot, or the 0.25 s sample
    # with more open (when the first streams end before the last one delivered its first event)
    pk = s.get("at_most_open_sampled") or {}
    opened, rss = o.get("open_streams") or 0, o["vm_rss_kb"]
    if (pk.get("open") or 0) > opened:
        opened, rss = pk["open"], pk["vm_rss_kb"]
    print(f"scale_open_at_snapshot.{t}={opened}")
    if opened:
        print(f"scale_kb_per_stream.{t}={(rss - b['vm_rss_kb']) / opened:.1f}")
    if "upstream_conns" in o:
        print(f"scale_upstream_conns.{t}={o['upstream_conns']}")
        print(f"scale_open_when_counted.{t}={o['open_streams']}")
EOF
    )
}

scale_run() {
    local n=${SCALE_STREAMS:-10000} idle_n=${SCALE_IDLE_CONNS:-5000} rate=${SCALE_RATE:-2000} tokens=${SCALE_TOKENS:-30}
    local nofile=${SCALE_NOFILE:-65536} probes=${SCALE_PROBES:-100} v
    [[ $probes =~ ^[0-9]+$ ]] || die "scale: SCALE_PROBES must be a number (got '$probes')"
    for v in n idle_n rate tokens nofile; do
        [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "scale: ${v} must be a positive integer (got '${!v}')"
    done
    # Descriptors: this shell's limits are inherited by everything started below (the mock, Switchboard, scale.py).
    # Each stream holds a client and an upstream connection in Switchboard; it also keeps a quarter of its limit
    # for upstream connections and files when it caps client connections (FileDescriptorLimit.swift).
    local need=$((2 * (n + probes) + 256)) hard
    if ((need < idle_n + 256)); then need=$((idle_n + 256)); fi
    if ((nofile < need)); then nofile=$need; fi
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < nofile)); then
        ulimit -Hn "$nofile" 2>/dev/null || log "scale: cannot raise the hard descriptor limit from $hard to $nofile (needs CAP_SYS_RESOURCE)"
    fi
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < nofile)); then nofile=$hard; fi
    ulimit -Sn "$nofile" 2>/dev/null || die "scale: cannot raise the descriptor limit to $nofile"
    if (($(ulimit -n) < need)); then
        if [[ ${SCALE_FORCE:-0} == 1 ]]; then
            log "scale: WARNING: descriptor limit $(ulimit -n) < $need needed for $n streams through Switchboard; running anyway (SCALE_FORCE=1): expect failed streams"
        else
            python3 "$CONF_DIR/report.py" "$RESULTS" "$BENCH_OUT" || true # keep what was measured before this
            die "scale: descriptor limit $(ulimit -n) < $need needed for $n + $probes streams (2 per stream + 256); at most $((($(ulimit -n) - 256) / 2 - probes)) streams fit: lower SCALE_STREAMS, raise the hard limit, or SCALE_FORCE=1 to see what fails"
        fi
    fi
    log "scale: $n slow streams, $idle_n idle connections, <= $rate connections/s, descriptor limit $(ulimit -n)"
    rec meta.scale_streams "$n"
    rec meta.scale_idle_conns "$idle_n"
    rec meta.scale_tokens "$tokens"
    rec meta.scale_probes "$probes"
    rec meta.scale_rate "$rate"
    rec meta.scale_nofile "$(ulimit -n)"

    local mock_port sw_port dir=$TMP/scale mock_pid sw_pid out
    mkdir -p "$dir"
    read -r mock_port <<<"$(free_ports 1)"
    start_server "slow upstream (mock-provider, 1 token/s)" "http://127.0.0.1:$mock_port/healthz" "$dir/mock.log" \
        "$SWITCHBOARD_BIN" mock-provider --listen "127.0.0.1:$mock_port" --tokens-per-s 1 --completion-tokens "$tokens" --log-level warning
    mock_pid=$STARTED_PID
    local mock_url=http://127.0.0.1:$mock_port/v1/chat/completions

    # One event a second: 3 streams must take about SCALE_TOKENS - 1 seconds and carry SCALE_TOKENS + 2 events
    # (the tokens, the finish chunk, [DONE]).
    out=$dir/check.json
    scale_client "$out" streams --url "$mock_url" -n 3
    python3 - "$out" "$tokens" <<'EOF' || die "scale: the mock provider does not stream one event per second (see above)"
import json, sys
r, tokens = json.load(open(sys.argv[1])), int(sys.argv[2])
ev = r["events_per_stream"]
ok = r["ok"] == 3 and ev["min"] == ev["max"] == tokens + 2 and tokens - 1.5 <= r["duration_s"] <= tokens + 1.5
print(f"  mock check: {r['ok']}/3 ok, {ev['min']} events per stream, {r['duration_s']} s", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

    # (1) direct to the mock: the reference TTFB (and the mock's own memory per stream)
    out=$dir/direct.json
    log "scale: $n streams straight to the mock"
    local ticks0 ticks1
    ticks0=$(cpu_ticks "$mock_pid")
    scale_client "$out" streams --url "$mock_url" -n "$n" --rate "$rate" --probe "$probes" --watch-pid "$mock_pid"
    ticks1=$(cpu_ticks "$mock_pid")
    scale_rec_streams "$out" direct
    rec scale_cpu_s.direct "$(awk -v d=$((ticks1 - ticks0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz }')"

    # (2) through Switchboard
    local max_conn=$((n > idle_n ? n : idle_n))
    max_conn=$((max_conn + 1000))
    read -r sw_port <<<"$(free_ports 1)"
    render "$CONF_DIR/scale.yaml.in" "$dir/switchboard.yaml" PORT="$sw_port" UPSTREAM_PORT="$mock_port" MAX_CONNECTIONS="$max_conn"
    start_server "switchboard (scale)" "http://127.0.0.1:$sw_port/readyz" "$dir/switchboard.log" \
        "$SWITCHBOARD_BIN" serve --config "$dir/switchboard.yaml" --listen "127.0.0.1:$sw_port"
    sw_pid=$STARTED_PID
    local sw_url=http://127.0.0.1:$sw_port/v1/chat/completions
    scale_client "$dir/warmup.json" streams --url "$sw_url" --key sk-bench -n 20 --max-tokens 1
    sleep 0.5
    out=$dir/sw.json
    log "scale: $n streams through Switchboard"
    ticks0=$(cpu_ticks "$sw_pid")
    scale_client "$out" streams --url "$sw_url" --key sk-bench -n "$n" --rate "$rate" --probe "$probes" --watch-pid "$sw_pid" \
        --upstream-port "$mock_port"
    ticks1=$(cpu_ticks "$sw_pid")
    scale_rec_streams "$out" sw
    rec scale_cpu_s.sw "$(awk -v d=$((ticks1 - ticks0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz }')"
    while IFS= read -r v; do rec "${v%%=*}" "${v#*=}"; done < <(python3 - "$dir/direct.json" "$dir/sw.json" <<'EOF'
import json, sys
d, w = (json.load(open(p)) for p in sys.argv[1:3])
for src, key in (("probe", "scale_ttfb_added_p99_ms"), (None, "scale_ttfb_added_opening_p99_ms")):
    a, b = ((x[src]["ttfb_ms"]["p99"] if src else x["ttfb_ms"]["p99"]) for x in (d, w))
    if a is not None and b is not None:
        print(f"{key}={b - a:.3f}")
EOF
    )
    scale_stop "$sw_pid"

    # (3) idle keep-alive connections, on a fresh Switchboard (none of the streams' freed memory to reuse)
    read -r sw_port <<<"$(free_ports 1)"
    render "$CONF_DIR/scale.yaml.in" "$dir/switchboard-idle.yaml" PORT="$sw_port" UPSTREAM_PORT="$mock_port" MAX_CONNECTIONS="$max_conn"
    start_server "switchboard (idle connections)" "http://127.0.0.1:$sw_port/readyz" "$dir/switchboard-idle.log" \
        "$SWITCHBOARD_BIN" serve --config "$dir/switchboard-idle.yaml" --listen "127.0.0.1:$sw_port"
    sw_pid=$STARTED_PID
    scale_client "$dir/warmup-idle.json" idle --url "http://127.0.0.1:$sw_port/healthz" -n 50 --hold 0 --after-wait 0
    sleep 0.5
    out=$dir/idle.json
    log "scale: $idle_n idle keep-alive connections to Switchboard"
    scale_client "$out" idle --url "http://127.0.0.1:$sw_port/healthz" -n "$idle_n" --rate "$rate" --watch-pid "$sw_pid"
    while IFS= read -r v; do rec "${v%%=*}" "${v#*=}"; done < <(python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["server"]
b, i = s["before"], s["all_idle"]
print(f"scale_idle_answered={r['answered']}")
print(f"scale_idle_failed={r['failed'] + r['waiting_no_answer']}")
print(f"scale_rss_idle_before_mb={b['vm_rss_kb'] / 1024:.1f}")
print(f"scale_rss_idle_mb={i['vm_rss_kb'] / 1024:.1f}")
if r["answered"]:
    print(f"scale_kb_per_idle_conn={(i['vm_rss_kb'] - b['vm_rss_kb']) / r['answered']:.1f}")
EOF
    )
    scale_stop "$sw_pid"

    # (4) past server.max_connections: 80 connections to a Switchboard that takes 50
    read -r sw_port <<<"$(free_ports 1)"
    render "$CONF_DIR/scale.yaml.in" "$dir/switchboard-limit.yaml" PORT="$sw_port" UPSTREAM_PORT="$mock_port" MAX_CONNECTIONS=50
    start_server "switchboard (max_connections 50)" "http://127.0.0.1:$sw_port/readyz" "$dir/switchboard-limit.log" \
        "$SWITCHBOARD_BIN" serve --config "$dir/switchboard-limit.yaml" --listen "127.0.0.1:$sw_port"
    sw_pid=$STARTED_PID
    sleep 0.5   # start_server's curl probes must be gone: they counted against the 50
    out=$dir/limit.json
    log "scale: 80 connections to a Switchboard with server.max_connections 50"
    scale_client "$out" idle --url "http://127.0.0.1:$sw_port/healthz" -n 80 --answer-timeout 3 --hold 0 --release-check \
        --watch-pid "$sw_pid"
    while IFS= read -r v; do rec "${v%%=*}" "${v#*=}"; done < <(python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
rc = r.get("release_check") or {}
print("scale_limit_max_connections=50")
print(f"scale_limit_opened={r['started'] - r['failed']}")
print(f"scale_limit_answered={r['answered']}")
print(f"scale_limit_waiting={r['waiting_no_answer']}")
print(f"scale_limit_failed={r['failed']}")
print(f"scale_limit_answered_after_release={rc.get('answered_after_release', 0)}")
EOF
    )
    scale_stop "$sw_pid"
    scale_stop "$mock_pid"
    log "scale: done"
}

if [[ $SCALE == 1 ]]; then
    if [[ ${HAVE_SW:-0} == 1 || -x $SWITCHBOARD_BIN ]]; then
        scale_run
    else
        log "scale: no Switchboard binary at $SWITCHBOARD_BIN, skipped"
    fi
fi
