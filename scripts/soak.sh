#!/usr/bin/env bash
# Soak test: the release gateway under mixed traffic for a long time, with request bodies logged, watching memory.
#
#   scripts/soak.sh                       # 30 minutes
#   DURATION=300 scripts/soak.sh          # 5 minutes
#
# Starts, on 127.0.0.1 only, the gateway (.build/release/switchboard, built unless SKIP_BUILD=1 or SWITCHBOARD_BIN is
# set) with two simulated providers, SQLite storage and `logging.bodies` on, then drives it with CONCURRENCY client
# threads (scripts/soak/load.py): 60% plain chat completions, 30% streamed ones, 10% requests whose client goes
# away before the answer (plain and streamed), each with a ~2 KB prompt. The gateway's RSS is sampled every
# SAMPLE_S seconds and printed as a curve. After the warm-up (the first WARMUP_FRACTION of the run) memory must
# level off: the run fails when the last third's median RSS exceeds the middle third's by more than GROWTH_MB
# (default 8 MB), or when any request failed with a 5xx the gateway made itself, or the gateway exited.
#
# Environment: DURATION (s, 1800), CONCURRENCY (16), SAMPLE_S (10), GROWTH_MB (8), PORT (free port), KEEP_TMP=1,
# SOAK_OUT (curve as CSV, default .soak-rss.csv).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-1800}
CONCURRENCY=${CONCURRENCY:-16}
SAMPLE_S=${SAMPLE_S:-10}
GROWTH_MB=${GROWTH_MB:-8}
SOAK_OUT=${SOAK_OUT:-$ROOT/.soak-rss.csv}
PYTHON=${PYTHON:-python3}

if [[ -n ${SWITCHBOARD_BIN:-} ]]; then
    BIN=$SWITCHBOARD_BIN
else
    BIN=$ROOT/.build/release/switchboard
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        (cd "$ROOT" && swift build -c release --product switchboard)
    fi
fi
[[ -x $BIN ]] || { echo "no gateway binary at $BIN" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-soak.XXXXXX")
GW_PID=""
cleanup() {
    [[ -n $GW_PID ]] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
    [[ ${KEEP_TMP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

PORT=${PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
cat >"$TMP/soak.yaml" <<EOF
server: { listen: "127.0.0.1:$PORT" }
storage: "sqlite:$TMP/soak.db"
auth: { master_key: "sk-soak-master-0123456789", keys: [ { name: soak, key: "sk-soak" } ] }
providers:
  - { name: fast, kind: mock, ttft_ms: 5, tokens_per_s: 2000, completion_tokens: 40, seed: 1 }
  - { name: slow, kind: mock, ttft_ms: 40, tokens_per_s: 500, completion_tokens: 40, seed: 2 }
models:
  - name: soak
    balancing: round-robin
    deployments:
      - { provider: fast, model: f, price: { input: 1, output: 2 } }
      - { provider: slow, model: s, price: { input: 0.5, output: 1 } }
logging: { bodies: { enabled: true, max_bytes: 4096 }, request_log_retention_days: 1 }
EOF

"$BIN" serve --config "$TMP/soak.yaml" >"$TMP/gateway.out.log" 2>"$TMP/gateway.err.log" &
GW_PID=$!
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$GW_PID" 2>/dev/null || { echo "gateway exited at start:"; cat "$TMP/gateway.err.log"; exit 1; }
    sleep 0.1
done

echo "soak: ${DURATION}s, ${CONCURRENCY} clients, bodies logged, gateway pid $GW_PID on port $PORT"
"$PYTHON" "$ROOT/scripts/soak/load.py" --port "$PORT" --key sk-soak --duration "$DURATION" --concurrency "$CONCURRENCY" \
    --sample "$SAMPLE_S" --pid "$GW_PID" --growth-mb "$GROWTH_MB" --csv "$SOAK_OUT" \
    --admin-key sk-soak-master-0123456789
