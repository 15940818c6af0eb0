#!/usr/bin/env bash
# Switchboard benchmark: Switchboard vs a plain nginx reverse proxy vs the upstream itself.
#
# Starts, on 127.0.0.1 only:
#   (A) direct      an "instant upstream" (nginx `return`) speaking the OpenAI chat API, plain and SSE
#   (B) nginx proxy nginx reverse proxy in front of (A), upstream keepalive 64   -- the reference
#   (C) SwiftNIO floor  .build/release/floor-proxy in front of (A): the least a SwiftNIO reverse proxy does
#                   (Sources/floor-proxy), what the gateway costs before it does anything of its own
#   (D) switchboard .build/release/switchboard in front of (A)
# and measures max throughput (wrk), latency at a fixed rate (hey), CPU per request, streaming
# time-to-first-byte, RSS and start-up time. Prints a table and writes JSON to $BENCH_OUT.
#
# Environment (all optional):
#   DURATION=10          seconds of each max-throughput wrk run (after a WARMUP=2 second warm-up)
#   RATE_DURATION=10     seconds of each fixed-rate hey run (RATE_WORKERS=50 x RATE_PER_WORKER=20 req/s)
#   CONNECTIONS=50 THREADS=2   wrk connections and threads
#   TTFB_SAMPLES=30      streaming time-to-first-byte samples per target
#   PIN=1                pin load generators to one CPU and servers to another (default 1 if nproc >= 2);
#                        CLIENT_CPUS / SERVER_CPUS override the CPU lists (default: first / second allowed CPU)
#   SKIP_BUILD=1         do not run `swift build -c release --product switchboard`
#   SWITCHBOARD_BIN=...  use this binary (implies SKIP_BUILD=1); default .build/release/switchboard
#   SW_EVENT_LOOP_THREADS=N  add `event_loop_threads: N` to the generated Switchboard config
#   TRACING=RATIO        turn on OpenTelemetry tracing with this sample_ratio (1 = every request), exported to the
#                        instant upstream's /v1/traces, which accepts and discards them: what tracing costs
#   NO_SWITCHBOARD=1     benchmark only direct and nginx proxy (no build, switchboard column empty)
#   NO_FLOOR=1           leave out the SwiftNIO floor (built with `swift build -c release --product floor-proxy` when
#                        missing, or unless SKIP_BUILD=1)
#   NO_TLS=1             skip the https:// upstream run (the instant upstream also served over TLS, with a CA and
#                        certificate made here with openssl; Switchboard verifies it through the provider's ca_file;
#                        compared with the http:// runs right before and after it)
#   NO_TRACING_RUN=1     skip the tracing-on run (a second Switchboard with tracing at sample_ratio 1, CPU per request
#                        compared with tracing off measured right before and after it); skipped anyway when TRACING is set
#   NO_GOVERNED=1        skip the governed-key runs (a managed key with limits and a budget, on SQLite and on a
#                        throwaway PostgreSQL started with scripts/pg.sh, against the static key right before and after)
#   BENCH_OUT=path       JSON results (default .bench-results.json in the repo root)
#   KEEP_TMP=1           keep the temporary directory (configs, logs, raw tool output)
#   STARTUP_TIMEOUT=30 BUILD_TIMEOUT=3600   seconds
#   SCALE=1              also the many-open-streams run (scripts/bench/scale.sh; implied by SCALE_STREAMS): slow streams
#                        from `switchboard mock-provider --tokens-per-s 1`, direct and through Switchboard, then idle
#                        keep-alive connections and a client past server.max_connections; raises `ulimit -n`
#   SCALE_STREAMS=10000  concurrent slow streams (needs 2 descriptors each in Switchboard: stops if the hard limit
#                        cannot be raised that far, unless SCALE_FORCE=1)
#   SCALE_IDLE_CONNS=5000 SCALE_RATE=2000 SCALE_TOKENS=30 SCALE_PROBES=100 SCALE_NOFILE=65536   idle connections,
#                        new connections/s, events (seconds) per stream, streams opened once all are open, ulimit -n
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CONF_DIR=$SCRIPT_DIR/bench

DURATION=${DURATION:-10}
RATE_DURATION=${RATE_DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
RATE_WORKERS=${RATE_WORKERS:-50}
RATE_PER_WORKER=${RATE_PER_WORKER:-20}
TTFB_SAMPLES=${TTFB_SAMPLES:-30}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-30}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-3600}
NO_SWITCHBOARD=${NO_SWITCHBOARD:-0}
NO_TLS=${NO_TLS:-0}
NO_TRACING_RUN=${NO_TRACING_RUN:-0}
NO_FLOOR=${NO_FLOOR:-0}
FLOOR_BIN=$REPO_ROOT/.build/release/floor-proxy
KEEP_TMP=${KEEP_TMP:-0}
SW_EVENT_LOOP_THREADS=${SW_EVENT_LOOP_THREADS:-}
TRACING=${TRACING:-}

if [[ -n ${BENCH_OUT:-} ]]; then
    [[ $BENCH_OUT == /* ]] || BENCH_OUT=$PWD/$BENCH_OUT
else
    BENCH_OUT=$REPO_ROOT/.bench-results.json
fi
if [[ -n ${SWITCHBOARD_BIN:-} ]]; then
    SKIP_BUILD=1
    [[ $SWITCHBOARD_BIN == /* ]] || SWITCHBOARD_BIN=$PWD/$SWITCHBOARD_BIN
else
    SWITCHBOARD_BIN=$REPO_ROOT/.build/release/switchboard
fi
SKIP_BUILD=${SKIP_BUILD:-0}
[[ $NO_SWITCHBOARD == 1 ]] && SKIP_BUILD=1

for v in DURATION RATE_DURATION WARMUP CONNECTIONS THREADS RATE_WORKERS RATE_PER_WORKER TTFB_SAMPLES STARTUP_TIMEOUT BUILD_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done

AUTH_HEADER="Authorization: Bearer sk-bench"
CHAT_BODY='{"model":"bench","messages":[{"role":"user","content":"Say hello to the benchmark in one short sentence."}],"max_tokens":16}'
STREAM_BODY='{"model":"bench-stream","messages":[{"role":"user","content":"Say hello to the benchmark in one short sentence."}],"max_tokens":16,"stream":true}'

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Temp dir, process bookkeeping and cleanup. Only PIDs started here are ever signalled.
# ---------------------------------------------------------------------------------------------
PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")

cleanup() {
    local rc=$? pid kids i
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    for ((i = 0; i < 50; i++)); do          # up to 5 s for a graceful exit
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kids=$(pgrep -P "$pid" 2>/dev/null)
            # shellcheck disable=SC2086
            kill -KILL "$pid" $kids 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    if [[ -n ${GOV_PG_DIR:-} ]]; then "$REPO_ROOT/scripts/pg.sh" stop "$GOV_PG_DIR" >/dev/null 2>&1; fi
    if [[ $KEEP_TMP == 1 ]]; then
        log "kept temporary files in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
now_us() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }

free_ports() { # free_ports N -> N distinct free TCP ports on 127.0.0.1
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

render() { # render TEMPLATE OUT KEY=VALUE...
    local tpl=$1 out=$2 kv content
    shift 2
    content=$(<"$tpl")
    for kv in "$@"; do content=${content//"@${kv%%=*}@"/"${kv#*=}"}; done
    printf '%s\n' "$content" >"$out"
}

group_pids() { # a process and its direct children (nginx master + workers)
    echo "$1"
    pgrep -P "$1" 2>/dev/null || true
}

cpu_ticks() { # cpu_ticks PID... -> summed utime+stime in clock ticks (threads included)
    local pid s total=0
    for pid in "$@"; do
        s=$(<"/proc/$pid/stat") || continue
        s=${s##*) }
        # shellcheck disable=SC2086
        set -- $s
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

mem_kb() { # mem_kb FIELD PID... -> summed VmRSS / VmHWM in kB
    local field=$1 pid total=0 v
    shift
    for pid in "$@"; do
        v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

RESULTS=$TMP/results.txt
: >"$RESULTS"
rec() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }

http_code() { # http_code URL [curl args...] -> status code ("000" if no answer)
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true
}

# start_server NAME READY_URL LOGFILE CMD... : launch in background (pinned to the server CPU),
# record its PID, poll READY_URL every 5 ms until 200; sets STARTED_PID and STARTED_MS.
start_server() {
    local name=$1 url=$2 logf=$3 t0 t1 code pid
    shift 3
    t0=$(now_us)
    "${SERVER_PIN[@]}" "$@" >"$logf" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null || true)
        t1=$(now_us)
        [[ $code == 200 ]] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logf" >&2 || true
            die "$name exited before becoming ready (log above)"
        fi
        if (((t1 - t0) > STARTUP_TIMEOUT * 1000000)); then
            tail -n 30 "$logf" >&2 || true
            die "$name not ready at $url after ${STARTUP_TIMEOUT}s (last status $code)"
        fi
        sleep 0.005
    done
    STARTED_PID=$pid
    STARTED_MS=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
    log "$name ready on $url in ${STARTED_MS} ms (pid $pid)"
}

# run_wrk LABEL URL SECONDS [CONNECTIONS [INTERVAL_MS]] -> fills the associative array WRK from the
# BENCH_WRK line of post.lua. With INTERVAL_MS each connection is paced to ~1 request per INTERVAL_MS.
declare -A WRK
run_wrk() {
    local label=$1 url=$2 secs=$3 conns=${4:-$CONNECTIONS} interval=${5:-} out=$TMP/wrk-$1.txt line kv
    local threads=$THREADS
    ((conns >= threads)) || threads=$conns
    BENCH_BODY=$CHAT_BODY BENCH_AUTH="Bearer ${WRK_KEY:-sk-bench}" BENCH_INTERVAL_MS=$interval \
        "${CLIENT_PIN[@]}" timeout $((secs + 30)) \
        wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$CONF_DIR/post.lua" "$url" >"$out" 2>&1 ||
        { cat "$out" >&2; die "wrk failed against $url"; }
    line=$(grep '^BENCH_WRK ' "$out" || true)
    [[ -n $line ]] || { cat "$out" >&2; die "no BENCH_WRK summary from wrk ($url)"; }
    WRK=()
    for kv in ${line#BENCH_WRK }; do WRK[${kv%%=*}]=${kv#*=}; done
    WRK_ERRS=$((WRK[errors_connect] + WRK[errors_read] + WRK[errors_write] + WRK[errors_status] + WRK[errors_timeout]))
}

# wrk_measured LABEL URL PID... : a WARMUP-second run, then the measured DURATION-second one with the CPU the PIDs
# used meanwhile -> sets WRK and WRK_ERRS (as run_wrk) and CPU_US (CPU per request)
wrk_measured() {
    local label=$1 url=$2 ticks0 ticks1
    shift 2
    run_wrk "$label-warmup" "$url" "$WARMUP"
    ticks0=$(cpu_ticks "$@")
    run_wrk "$label" "$url" "$DURATION"
    ticks1=$(cpu_ticks "$@")
    CPU_US=$(awk -v d=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="${WRK[requests]}" 'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / hz / n }')
}

ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; } # microseconds -> milliseconds
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a + b) / 2 }'; } # of a reference measured before and after

# run_hey LABEL URL -> sets HEY_P50_MS HEY_P99_MS HEY_RPS HEY_BAD
run_hey() {
    local label=$1 url=$2 out=$TMP/hey-$1.txt
    "${CLIENT_PIN[@]}" timeout $((RATE_DURATION + 40)) \
        hey -z "${RATE_DURATION}s" -c "$RATE_WORKERS" -q "$RATE_PER_WORKER" -m POST \
        -H "$AUTH_HEADER" -T application/json -d "$CHAT_BODY" "$url" >"$out" 2>&1 ||
        { cat "$out" >&2; die "hey failed against $url"; }
    HEY_P50_MS=$(awk '$1 == "50%" && $2 == "in" { printf "%.3f", $3 * 1000 }' "$out")
    HEY_P99_MS=$(awk '$1 == "99%" && $2 == "in" { printf "%.3f", $3 * 1000 }' "$out")
    HEY_RPS=$(awk '$1 == "Requests/sec:" { printf "%.1f", $2 }' "$out")
    # non-200 responses plus transport errors
    HEY_BAD=$(awk '
        /^Status code distribution:/ { s = 1; e = 0; next }
        /^Error distribution:/       { e = 1; s = 0; next }
        s && $1 ~ /^\[[0-9]+\]$/ { if ($1 != "[200]") bad += $2; next }
        e && $1 ~ /^\[[0-9]+\]$/ { gsub(/[\[\]]/, "", $1); bad += $1; next }
        END { print bad + 0 }' "$out")
    [[ -n $HEY_P50_MS && -n $HEY_P99_MS ]] || { cat "$out" >&2; die "could not parse hey output ($url)"; }
}

median_ms() { # median of seconds values in a file, in ms
    sort -g "$1" | awk '{ a[NR] = $1 } END {
        if (NR == 0) { exit 1 }
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.3f", m * 1000 }'
}

# ---------------------------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------------------------
NGINX_BIN=/usr/sbin/nginx
[[ -x $NGINX_BIN ]] || NGINX_BIN=$(command -v nginx || true)
missing=()
[[ -n $NGINX_BIN && -x $NGINX_BIN ]] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v hey >/dev/null 2>&1 || missing+=(hey)
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    SUDO=()
    ((EUID == 0)) || SUDO=(sudo)
    "${SUDO[@]}" apt-get install -y "${missing[@]}" ||
        { "${SUDO[@]}" apt-get update && "${SUDO[@]}" apt-get install -y "${missing[@]}"; } ||
        die "could not install ${missing[*]}"
    NGINX_BIN=/usr/sbin/nginx
    [[ -x $NGINX_BIN ]] || NGINX_BIN=$(command -v nginx || true)
fi
for tool in curl python3 timeout awk pgrep getconf; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ -x $NGINX_BIN ]] || die "nginx not found"
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------------
# 2. Build
# ---------------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    log "building: swift build -c release --product switchboard"
    (cd "$REPO_ROOT" && timeout "$BUILD_TIMEOUT" swift build -c release --product switchboard) ||
        die "release build failed"
fi
if [[ $NO_FLOOR != 1 && ($SKIP_BUILD != 1 || ! -x $FLOOR_BIN) ]]; then
    log "building: swift build -c release --product floor-proxy"
    (cd "$REPO_ROOT" && timeout "$BUILD_TIMEOUT" swift build -c release --product floor-proxy) ||
        die "release build of floor-proxy failed (or NO_FLOOR=1)"
fi
if [[ $NO_SWITCHBOARD != 1 && ! -x $SWITCHBOARD_BIN ]]; then
    die "no Switchboard binary at $SWITCHBOARD_BIN (build it, set SWITCHBOARD_BIN, or NO_SWITCHBOARD=1)"
fi

# ---------------------------------------------------------------------------------------------
# CPU pinning
# ---------------------------------------------------------------------------------------------
NPROC=$(nproc)
PIN=${PIN:-$((NPROC >= 2 ? 1 : 0))}
CLIENT_PIN=()
SERVER_PIN=()
if [[ $PIN == 1 ]]; then
    command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (util-linux)"
    read -r -a ALLOWED <<<"$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')"
    ((${#ALLOWED[@]} >= 2)) || die "PIN=1 needs at least 2 usable CPUs (have: ${ALLOWED[*]})"
    CLIENT_CPUS=${CLIENT_CPUS:-${ALLOWED[0]}}
    SERVER_CPUS=${SERVER_CPUS:-${ALLOWED[1]}}
    CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
    SERVER_PIN=(taskset -c "$SERVER_CPUS")
    PIN_DESC="load generators on CPU $CLIENT_CPUS, servers on CPU $SERVER_CPUS"
else
    PIN_DESC="off"
fi

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "loadavg at start: $LOADAVG_START  (nproc $NPROC, pinning: $PIN_DESC)"

# ---------------------------------------------------------------------------------------------
# 3. Servers
# ---------------------------------------------------------------------------------------------
read -r UP_PORT PX_PORT SW_PORT UP_TLS_PORT FL_PORT <<<"$(free_ports 5)"

# The https:// upstream: the same instant upstream on a second port with TLS, its certificate (for 127.0.0.1) signed by
# a throwaway CA; Switchboard trusts that CA through the provider's `ca_file` (verification stays on).
TLS_LISTEN="" TLS_PROVIDER="" TLS_MODEL=""
if [[ $NO_TLS != 1 ]]; then
    command -v openssl >/dev/null 2>&1 || die "openssl is required for the https:// upstream run (or NO_TLS=1)"
    TLS_DIR=$TMP/tls
    mkdir -p "$TLS_DIR"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=switchboard bench CA" \
            -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$TLS_DIR/leaf.key" -out "$TLS_DIR/leaf.csr" &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TLS_DIR/ext.cnf" &&
            openssl x509 -req -in "$TLS_DIR/leaf.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial -days 2 \
                -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/leaf.pem"
    } >"$TLS_DIR/openssl.log" 2>&1 || { cat "$TLS_DIR/openssl.log" >&2; die "could not make the test certificates"; }
    TLS_LISTEN="listen 127.0.0.1:$UP_TLS_PORT ssl backlog=4096; ssl_certificate $TLS_DIR/leaf.pem; ssl_certificate_key $TLS_DIR/leaf.key;"
    TLS_PROVIDER="- { name: up_tls, kind: openai, base_url: \"https://127.0.0.1:$UP_TLS_PORT/v1\", ca_file: \"$TLS_DIR/ca.pem\" }"
    TLS_MODEL="- { name: bench-tls, deployments: [ { provider: up_tls, model: bench, price: { input: 0.15, output: 0.6 } } ] }"
fi

nginx_prefix() { # nginx_prefix DIR: private prefix with temp dirs and a temp_paths.conf include
    local d=$1 m
    mkdir -p "$d/tmp"
    {
        echo "client_body_temp_path $d/tmp/client_body;"
        echo "proxy_temp_path $d/tmp/proxy;"
        for m in fastcgi uwsgi scgi; do
            if ! "$NGINX_BIN" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
                echo "${m}_temp_path $d/tmp/$m;"
            fi
        done
    } >"$d/temp_paths.conf"
}

UP_DIR=$TMP/upstream
PX_DIR=$TMP/proxy
nginx_prefix "$UP_DIR"
nginx_prefix "$PX_DIR"
render "$CONF_DIR/upstream.conf.in" "$UP_DIR/nginx.conf" PREFIX="$UP_DIR" PORT="$UP_PORT" TLS_LISTEN="$TLS_LISTEN"
render "$CONF_DIR/proxy.conf.in" "$PX_DIR/nginx.conf" PREFIX="$PX_DIR" PORT="$PX_PORT" UPSTREAM_PORT="$UP_PORT"
"$NGINX_BIN" -t -q -p "$UP_DIR/" -e "$UP_DIR/error.log" -c "$UP_DIR/nginx.conf" || die "upstream nginx config invalid"
"$NGINX_BIN" -t -q -p "$PX_DIR/" -e "$PX_DIR/error.log" -c "$PX_DIR/nginx.conf" || die "proxy nginx config invalid"

DIRECT_URL=http://127.0.0.1:$UP_PORT
NGINX_URL=http://127.0.0.1:$PX_PORT
SW_URL=http://127.0.0.1:$SW_PORT
FLOOR_URL=http://127.0.0.1:$FL_PORT

start_server "instant upstream (nginx)" "$DIRECT_URL/v1/models" "$UP_DIR/stdout.log" \
    "$NGINX_BIN" -p "$UP_DIR/" -e "$UP_DIR/error.log" -c "$UP_DIR/nginx.conf"
UP_PID=$STARTED_PID
rec startup_ms.direct "$STARTED_MS"

start_server "nginx proxy" "$NGINX_URL/v1/models" "$PX_DIR/stdout.log" \
    "$NGINX_BIN" -p "$PX_DIR/" -e "$PX_DIR/error.log" -c "$PX_DIR/nginx.conf"
PX_PID=$STARTED_PID
rec startup_ms.nginx "$STARTED_MS"

HAVE_FLOOR=0
if [[ $NO_FLOOR != 1 ]]; then
    start_server "SwiftNIO floor" "$FLOOR_URL/v1/models" "$TMP/floor.log" "$FLOOR_BIN" "$FL_PORT" 127.0.0.1 "$UP_PORT"
    FL_PID=$STARTED_PID
    rec startup_ms.floor "$STARTED_MS"
    HAVE_FLOOR=1
fi

HAVE_SW=0
if [[ $NO_SWITCHBOARD != 1 ]]; then
    SW_CONFIG=$TMP/switchboard.yaml
    EXTRA_SERVER=""
    [[ -n $SW_EVENT_LOOP_THREADS ]] && EXTRA_SERVER=", event_loop_threads: $SW_EVENT_LOOP_THREADS"
    EXTRA_TOP=""
    [[ -n $TRACING ]] && EXTRA_TOP="tracing: { enabled: true, endpoint: \"http://127.0.0.1:$UP_PORT/v1/traces\", sample_ratio: $TRACING, export_interval_ms: 1000 }"
    render "$CONF_DIR/switchboard.yaml.in" "$SW_CONFIG" PORT="$SW_PORT" UPSTREAM_PORT="$UP_PORT" EXTRA_SERVER="$EXTRA_SERVER" STORAGE=memory \
        EXTRA_TOP="$EXTRA_TOP" TLS_PROVIDER="$TLS_PROVIDER" TLS_MODEL="$TLS_MODEL"
    start_server "switchboard" "$SW_URL/readyz" "$TMP/switchboard.log" \
        "$SWITCHBOARD_BIN" serve --config "$SW_CONFIG" --listen "127.0.0.1:$SW_PORT"
    SW_PID=$STARTED_PID
    rec startup_ms.sw "$STARTED_MS"
    HAVE_SW=1
fi

sleep 0.5 # settle, then idle memory before any request
rec rss_idle_mb.direct "$(kb_to_mb "$(mem_kb VmRSS $(group_pids "$UP_PID"))")"
rec rss_idle_mb.nginx "$(kb_to_mb "$(mem_kb VmRSS $(group_pids "$PX_PID"))")"
((HAVE_FLOOR)) && rec rss_idle_mb.floor "$(kb_to_mb "$(mem_kb VmRSS "$FL_PID")")"
((HAVE_SW)) && rec rss_idle_mb.sw "$(kb_to_mb "$(mem_kb VmRSS $(group_pids "$SW_PID"))")"

# Targets: name, chat URL, streaming URL, PIDs for CPU accounting (evaluated when measured)
TARGETS=(direct nginx)
((HAVE_FLOOR)) && TARGETS+=(floor)
((HAVE_SW)) && TARGETS+=(sw)
declare -A CHAT_URL=([direct]=$DIRECT_URL/v1/chat/completions [nginx]=$NGINX_URL/v1/chat/completions
    [floor]=$FLOOR_URL/v1/chat/completions [sw]=$SW_URL/v1/chat/completions)
declare -A STREAM_URL=([direct]=$DIRECT_URL/v1/stream/chat/completions [nginx]=$NGINX_URL/v1/stream/chat/completions
    [floor]=$FLOOR_URL/v1/stream/chat/completions [sw]=$SW_URL/v1/chat/completions)
declare -A LABEL=([direct]="direct" [nginx]="nginx proxy" [floor]="SwiftNIO floor" [sw]="switchboard")
target_pids() {
    case $1 in
        direct) group_pids "$UP_PID" ;;
        nginx) group_pids "$PX_PID" ;;
        floor) echo "$FL_PID" ;;
        sw) group_pids "$SW_PID" ;; # Switchboard is one process; children (if any) counted too
    esac
}

# ---------------------------------------------------------------------------------------------
# Sanity checks: every target answers the chat request and the stream properly.
# ---------------------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
    body=$TMP/sanity-$t.json
    code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -X POST -H "$AUTH_HEADER" \
        -H 'Content-Type: application/json' -d "$CHAT_BODY" "${CHAT_URL[$t]}" || true)
    if [[ $code != 200 ]] || ! grep -q '"chat.completion"' "$body"; then
        head -c 600 "$body" >&2 || true
        echo >&2
        die "${LABEL[$t]}: chat request to ${CHAT_URL[$t]} gave HTTP $code, not a chat.completion"
    fi
    body=$TMP/sanity-$t.sse
    code=$(curl -s -N -o "$body" -w '%{http_code}' --max-time 10 -X POST -H "$AUTH_HEADER" \
        -H 'Content-Type: application/json' -d "$STREAM_BODY" "${STREAM_URL[$t]}" || true)
    if [[ $code != 200 ]] || ! grep -q 'chat.completion.chunk' "$body" || ! grep -q '^data: \[DONE\]' "$body"; then
        head -c 600 "$body" >&2 || true
        echo >&2
        die "${LABEL[$t]}: streaming request to ${STREAM_URL[$t]} gave HTTP $code, not an SSE stream ending in [DONE]"
    fi
done
if ((HAVE_SW)); then
    code=$(http_code "$SW_URL/v1/chat/completions" -X POST -H 'Content-Type: application/json' -d "$CHAT_BODY")
    [[ $code == 401 ]] || log "warning: switchboard answered $code (expected 401) to a request without a key"
fi
log "sanity checks passed for: ${TARGETS[*]}"

# ---------------------------------------------------------------------------------------------
# 5a. Max throughput (wrk) + CPU per request
# ---------------------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
    log "wrk ${LABEL[$t]}: warm-up ${WARMUP}s, then ${DURATION}s (-t$THREADS -c$CONNECTIONS)"
    mapfile -t cpids < <(target_pids "$t")
    wrk_measured "$t" "${CHAT_URL[$t]}" "${cpids[@]}"
    rec "rps.$t" "${WRK[rps]}"
    [[ $t == sw ]] && SW_RPS=${WRK[rps]}
    rec "wrk_p50_ms.$t" "$(ms "${WRK[p50_us]}")"
    rec "wrk_p99_ms.$t" "$(ms "${WRK[p99_us]}")"
    rec "wrk_requests.$t" "${WRK[requests]}"
    rec "wrk_errors.$t" "$WRK_ERRS"
    rec "cpu_us.$t" "$CPU_US"
    log "  ${LABEL[$t]}: ${WRK[rps]} req/s, p50 ${WRK[p50_us]} us, p99 ${WRK[p99_us]} us, cpu ${CPU_US} us/req, errors $WRK_ERRS"
    ((WRK_ERRS == 0)) || log "  warning: ${LABEL[$t]} had $WRK_ERRS errors/non-2xx responses under wrk"
done

# ---------------------------------------------------------------------------------------------
# 5a'. The same through Switchboard to the instant upstream over https:// (keep-alive, certificate verified)
# ---------------------------------------------------------------------------------------------
if ((HAVE_SW)) && [[ $NO_TLS != 1 ]]; then
    TLS_BODY=${CHAT_BODY/\"model\":\"bench\"/\"model\":\"bench-tls\"}
    code=$(curl -s -o "$TMP/sanity-tls.json" -w '%{http_code}' --max-time 10 -X POST -H "$AUTH_HEADER" \
        -H 'Content-Type: application/json' -d "$TLS_BODY" "${CHAT_URL[sw]}" || true)
    [[ $code == 200 ]] && grep -q '"chat.completion"' "$TMP/sanity-tls.json" ||
        { head -c 600 "$TMP/sanity-tls.json" >&2; echo >&2; die "switchboard: chat request to the https:// upstream gave HTTP $code"; }
    log "wrk switchboard, https:// upstream: warm-up ${WARMUP}s, then ${DURATION}s"
    PLAIN_BODY=$CHAT_BODY
    CHAT_BODY=$TLS_BODY
    wrk_measured "sw-tls" "${CHAT_URL[sw]}" "$SW_PID"
    CHAT_BODY=$PLAIN_BODY
    rec "tls_rps.sw" "${WRK[rps]}"
    rec "tls_p99_ms.sw" "$(ms "${WRK[p99_us]}")"
    rec "tls_errors.sw" "$WRK_ERRS"
    rec "tls_cpu_us.sw" "$CPU_US"
    log "  https:// upstream: ${WRK[rps]} req/s, p99 ${WRK[p99_us]} us, errors $WRK_ERRS"
    TLS_RPS=${WRK[rps]}
    # http:// once more after it: the reference is the mean of the http:// runs before and after.
    log "wrk switchboard, http:// upstream again: warm-up ${WARMUP}s, then ${DURATION}s"
    wrk_measured "sw-plain2" "${CHAT_URL[sw]}" "$SW_PID"
    rec "tls_ref_rps.sw" "$(mean "$SW_RPS" "${WRK[rps]}")"
    log "  http:// $SW_RPS / ${WRK[rps]} req/s before / after, https:// $TLS_RPS req/s"
fi

# ---------------------------------------------------------------------------------------------
# 5b. Latency at a fixed rate (hey)
# ---------------------------------------------------------------------------------------------
RATE_RPS=$((RATE_WORKERS * RATE_PER_WORKER))
for t in "${TARGETS[@]}"; do
    log "hey ${LABEL[$t]}: ${RATE_RPS} req/s (${RATE_WORKERS} x ${RATE_PER_WORKER}) for ${RATE_DURATION}s"
    run_hey "$t" "${CHAT_URL[$t]}"
    rec "rate_p50_ms.$t" "$HEY_P50_MS"
    rec "rate_p99_ms.$t" "$HEY_P99_MS"
    rec "rate_rps.$t" "$HEY_RPS"
    rec "rate_non200.$t" "$HEY_BAD"
    log "  ${LABEL[$t]}: p50 ${HEY_P50_MS} ms, p99 ${HEY_P99_MS} ms, ${HEY_RPS} req/s, non-200 $HEY_BAD"
done

# Same rate with wrk pacing each connection (random gaps, not bursts) and microsecond-resolution
# percentiles: hey starts all its workers' rate tickers together, so it sends bursts of
# RATE_WORKERS requests and reports latencies rounded to 0.1 ms.
RATE_INTERVAL_MS=$(awk -v w="$RATE_WORKERS" -v r="$RATE_RPS" 'BEGIN { printf "%.0f", w * 1000 / r }')
# paced KEY RATE INTERVAL_MS: every target at ~RATE req/s, recorded as KEY_p50_ms.T, KEY_p99_ms.T, KEY_rps.T, KEY_errors.T
paced() {
    local key=$1 rate=$2 interval=$3 t
    for t in "${TARGETS[@]}"; do
        log "wrk paced ${LABEL[$t]}: ~$rate req/s (${RATE_WORKERS} conns, 1 req per ~$interval ms each) for ${RATE_DURATION}s"
        run_wrk "$t-$key" "${CHAT_URL[$t]}" "$RATE_DURATION" "$RATE_WORKERS" "$interval"
        rec "${key}_p50_ms.$t" "$(ms "${WRK[p50_us]}")"
        rec "${key}_p99_ms.$t" "$(ms "${WRK[p99_us]}")"
        rec "${key}_rps.$t" "${WRK[rps]}"
        rec "${key}_errors.$t" "$WRK_ERRS"
        log "  ${LABEL[$t]}: p50 ${WRK[p50_us]} us, p99 ${WRK[p99_us]} us, ${WRK[rps]} req/s, errors $WRK_ERRS"
    done
}
paced paced "$RATE_RPS" "$RATE_INTERVAL_MS"
# And at half that rate (a moderate load: periodic work on the serving core shows in its p99).
paced half "$((RATE_RPS / 2))" "$((RATE_INTERVAL_MS * 2))"

# ---------------------------------------------------------------------------------------------
# 5c. Streaming time-to-first-byte (sequential curl, targets interleaved)
# ---------------------------------------------------------------------------------------------
log "streaming TTFB: $TTFB_SAMPLES sequential requests per target"
ttfb() {
    "${CLIENT_PIN[@]}" curl -s -o /dev/null -w '%{time_starttransfer}\n' --max-time 10 -X POST \
        -H "$AUTH_HEADER" -H 'Content-Type: application/json' -d "$STREAM_BODY" "$1"
}
for t in "${TARGETS[@]}"; do
    : >"$TMP/ttfb-$t.txt"
    for _ in 1 2 3; do ttfb "${STREAM_URL[$t]}" >/dev/null || true; done # warm-up
done
for ((i = 0; i < TTFB_SAMPLES; i++)); do
    for t in "${TARGETS[@]}"; do
        ttfb "${STREAM_URL[$t]}" >>"$TMP/ttfb-$t.txt" || die "streaming request to ${STREAM_URL[$t]} failed"
    done
done
for t in "${TARGETS[@]}"; do
    m=$(median_ms "$TMP/ttfb-$t.txt")
    rec "ttfb_ms.$t" "$m"
    log "  ${LABEL[$t]}: median TTFB $m ms"
done

# ---------------------------------------------------------------------------------------------
# 5d. Memory after the load
# ---------------------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
    mapfile -t mpids < <(target_pids "$t")
    rec "rss_loaded_mb.$t" "$(kb_to_mb "$(mem_kb VmRSS "${mpids[@]}")")"
    rec "rss_peak_mb.$t" "$(kb_to_mb "$(mem_kb VmHWM "${mpids[@]}")")"
done

stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------------
# 5d'. Tracing on: a second Switchboard exporting a span tree for every request (sample_ratio 1) to the instant
#      upstream's OTLP endpoint (accepts and discards); CPU per request compared with tracing off measured right
#      before and right after it (the mean of the two: the VM's speed drifts within minutes).
# ---------------------------------------------------------------------------------------------
if ((HAVE_SW)) && [[ -z $TRACING && $NO_TRACING_RUN != 1 ]]; then
    log "wrk switchboard, tracing off (reference before): warm-up ${WARMUP}s, then ${DURATION}s"
    wrk_measured "sw-trace-ref1" "${CHAT_URL[sw]}" "$SW_PID"
    TRACE_REF1=$CPU_US
    stop_pid "$SW_PID"   # one Switchboard at a time on the server CPU
    read -r TR_PORT <<<"$(free_ports 1)"
    TR_CONFIG=$TMP/switchboard-tracing.yaml
    render "$CONF_DIR/switchboard.yaml.in" "$TR_CONFIG" PORT="$TR_PORT" UPSTREAM_PORT="$UP_PORT" EXTRA_SERVER="" STORAGE=memory \
        EXTRA_TOP="tracing: { enabled: true, endpoint: \"http://127.0.0.1:$UP_PORT/v1/traces\", sample_ratio: 1, export_interval_ms: 1000 }" \
        TLS_PROVIDER="" TLS_MODEL=""
    start_server "switchboard (tracing on)" "http://127.0.0.1:$TR_PORT/readyz" "$TMP/switchboard-tracing.log" \
        "$SWITCHBOARD_BIN" serve --config "$TR_CONFIG" --listen "127.0.0.1:$TR_PORT"
    TR_PID=$STARTED_PID
    log "wrk switchboard, tracing on (sample_ratio 1): warm-up ${WARMUP}s, then ${DURATION}s"
    wrk_measured "sw-tracing" "http://127.0.0.1:$TR_PORT/v1/chat/completions" "$TR_PID"
    rec "trace_rps.sw" "${WRK[rps]}"
    rec "trace_errors.sw" "$WRK_ERRS"
    rec "trace_cpu_us.sw" "$CPU_US"
    TRACE_ON=$CPU_US TRACE_RPS=${WRK[rps]} TRACE_ERRS=$WRK_ERRS
    stop_pid "$TR_PID"
    start_server "switchboard (tracing off again)" "http://127.0.0.1:$SW_PORT/readyz" "$TMP/switchboard-ref.log" \
        "$SWITCHBOARD_BIN" serve --config "$SW_CONFIG" --listen "127.0.0.1:$SW_PORT"
    SW_PID=$STARTED_PID
    log "wrk switchboard, tracing off (reference after): warm-up ${WARMUP}s, then ${DURATION}s"
    wrk_measured "sw-trace-ref2" "${CHAT_URL[sw]}" "$SW_PID"
    rec "trace_ref_cpu_us.sw" "$(mean "$TRACE_REF1" "$CPU_US")"
    log "  tracing on: $TRACE_RPS req/s, errors $TRACE_ERRS; CPU per request $TRACE_ON us on, $TRACE_REF1 / $CPU_US us off before / after"
fi

# ---------------------------------------------------------------------------------------------
# 5e. Governed requests: a managed key with rate limits, a concurrency limit and a budget, so every
#     request is admitted and charged (spend written in batches) -- on SQLite and on PostgreSQL.
# ---------------------------------------------------------------------------------------------
if ((HAVE_SW)) && [[ ${NO_GOVERNED:-0} != 1 ]]; then
    stop_pid "$SW_PID"   # one Switchboard at a time on the server CPU
    for storage in sqlite postgres; do
        if [[ $storage == postgres ]]; then
            pg_env=$("$REPO_ROOT/scripts/pg.sh" start "$TMP/pg" 2>"$TMP/pg.log") || { cat "$TMP/pg.log" >&2; die "could not start PostgreSQL"; }
            eval "$pg_env"
            GOV_PG_DIR=$PG_DIR
            STORAGE_URL=$SWITCHBOARD_TEST_POSTGRES_URL
        else
            STORAGE_URL="sqlite:$TMP/governed.db"
        fi
        read -r GOV_PORT <<<"$(free_ports 1)"
        GOV_CONFIG=$TMP/switchboard-$storage.yaml
        render "$CONF_DIR/switchboard.yaml.in" "$GOV_CONFIG" PORT="$GOV_PORT" UPSTREAM_PORT="$UP_PORT" EXTRA_SERVER="" STORAGE="$STORAGE_URL" EXTRA_TOP="" TLS_PROVIDER="" TLS_MODEL=""
        WRK_KEY=$("$SWITCHBOARD_BIN" keys create --config "$GOV_CONFIG" --name bench-governed --rpm 100000000 --tpm 10000000000 \
            --max-concurrent 100000 --budget month=1000000 | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])') ||
            die "could not create the governed key on $storage"
        start_server "switchboard ($storage, governed key)" "http://127.0.0.1:$GOV_PORT/readyz" "$TMP/switchboard-$storage.log" \
            "$SWITCHBOARD_BIN" serve --config "$GOV_CONFIG" --listen "127.0.0.1:$GOV_PORT"
        GOV_PID=$STARTED_PID
        GOV_URL=http://127.0.0.1:$GOV_PORT/v1/chat/completions
        # The static key on the same instance and storage first: the governed run's reference (both write the
        # request log to this storage; only admission and charging differ).
        log "wrk switchboard, static key on $storage: warm-up ${WARMUP}s, then ${DURATION}s"
        wrk_measured "gov-static-$storage" "$GOV_URL" "$GOV_PID"
        STATIC1=${WRK[rps]}
        rec "gov_static_cpu_us.$storage" "$CPU_US"
        export WRK_KEY
        log "wrk switchboard, governed key on $storage: warm-up ${WARMUP}s, then ${DURATION}s"
        wrk_measured "gov-$storage" "$GOV_URL" "$GOV_PID"
        rec "gov_rps.$storage" "${WRK[rps]}"
        rec "gov_p99_ms.$storage" "$(ms "${WRK[p99_us]}")"
        rec "gov_errors.$storage" "$WRK_ERRS"
        rec "gov_cpu_us.$storage" "$CPU_US"
        GOV_RPS=${WRK[rps]} GOV_P99=${WRK[p99_us]} GOV_ERRS=$WRK_ERRS
        unset WRK_KEY
        # The static key once more after it: the reference is the mean of the runs before and after.
        log "wrk switchboard, static key on $storage again: warm-up ${WARMUP}s, then ${DURATION}s"
        wrk_measured "gov-static2-$storage" "$GOV_URL" "$GOV_PID"
        rec "gov_static_rps.$storage" "$(mean "$STATIC1" "${WRK[rps]}")"
        log "  static key $STATIC1 / ${WRK[rps]} req/s before / after"
        sleep 1.5   # let the last batches of spend reach storage
        spent=$("$SWITCHBOARD_BIN" keys show bench-governed --config "$GOV_CONFIG" | python3 -c 'import json, sys; d = json.load(sys.stdin)["spend"]; print(d["month_usd"])')
        rec "gov_spend_usd.$storage" "$spent"
        log "  $storage: $GOV_RPS req/s governed, p99 $GOV_P99 us, errors $GOV_ERRS, spend recorded $spent USD"
        stop_pid "$GOV_PID"
        if [[ $storage == postgres ]]; then "$REPO_ROOT/scripts/pg.sh" stop "$GOV_PG_DIR"; GOV_PG_DIR=""; fi
    done
fi

source "$CONF_DIR/scale.sh"  # many open streams, only with SCALE=1 / SCALE_STREAMS=N

# ---------------------------------------------------------------------------------------------
# 6. Report
# ---------------------------------------------------------------------------------------------
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
log "loadavg at end: $LOADAVG_END"
rec meta.date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec meta.commit "$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
rec meta.host "$(uname -srm)"
rec meta.nproc "$NPROC"
rec meta.pin "$PIN_DESC"
rec meta.duration_s "$DURATION"
rec meta.warmup_s "$WARMUP"
rec meta.connections "$CONNECTIONS"
rec meta.wrk_threads "$THREADS"
rec meta.rate_rps "$RATE_RPS"
rec meta.rate_duration_s "$RATE_DURATION"
rec meta.ttfb_samples "$TTFB_SAMPLES"
rec meta.loadavg_start "$LOADAVG_START"
rec meta.loadavg_end "$LOADAVG_END"
rec meta.nginx "$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
rec meta.switchboard_bin "$([[ $HAVE_SW == 1 ]] && echo "$SWITCHBOARD_BIN" || echo none)"

python3 "$CONF_DIR/report.py" "$RESULTS" "$BENCH_OUT"
