#!/usr/bin/env bash
# Switchboard's test command: unit tests, then end-to-end tests of the built binary.
#
#   scripts/test.sh                      # everything
#   scripts/test.sh --filter ConfigTests # extra arguments go to `swift test`
#   SKIP_SWIFT_TEST=1 scripts/test.sh    # only the end-to-end part
#   SWITCHBOARD_BIN=path scripts/test.sh # test that binary instead of building one
#
# Stages: a Python venv at .venv with the openai and anthropic SDKs; `swift test`; `swift build --product switchboard`;
# `switchboard check` on a good and a bad config; `switchboard simulate` on the shipped scenarios; a gateway plus a `switchboard mock-provider` upstream, exercised
# through the openai SDK (scripts/e2e/sdk_test.py) and the anthropic SDK on /v1/messages (scripts/e2e/anthropic_sdk_test.py); graceful shutdown under SIGTERM (scripts/e2e/shutdown_test.py);
# configuration reloads by SIGHUP and the admin API while 50 streams run (scripts/e2e/reload_test.py);
# keys, rate limits and budgets made with `switchboard keys` on one process (SQLite) and on three replicas sharing a
# throwaway PostgreSQL (scripts/pg.sh, scripts/e2e/replicas_test.py), with requests held for review on one replica and
# approved or rejected through another; HTTPS and mutual TLS with certificates made by
# openssl (scripts/e2e/tls_test.py); connection rules, slow clients, deep bodies, clients that go away and descriptor limits
# (scripts/e2e/hardening_test.py); spans exported to a local OTLP collector (scripts/e2e/tracing_test.py); personal data
# blocked, redacted and pseudonymised through both SDKs, streamed and not (scripts/e2e/guardrails_test.py); the Responses API through the
# openai SDK on every provider kind (scripts/e2e/responses_test.py); the dashboard in headless Chromium with known traffic, its screenshot saved to
# .test-artifacts/dashboard.png and dashboard-phone.png (scripts/e2e/dashboard_test.py); every example in README.md and
# docs/*.md run, checked or compared (scripts/check_docs.py); the embedded demo config (`switchboard serve` without --config),
# with the README's short tour run as written against it; start-up failures (a port in use, unreachable PostgreSQL, an
# unreadable TLS file) and `--listen :PORT`.
# Logs go to a temporary folder, printed and kept when anything fails. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
E2E="$ROOT/scripts/e2e"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Everything here talks to 127.0.0.1; never through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

PASSED=0
FAILED=0
FAILURES=()
BG_PIDS=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-test.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS"

# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------

section() { printf '\n==> %s\n' "$*"; }
# pass/fail: checks of behaviour, counted. setup_ok: a precondition that held (a server up), shown but not counted; a
# precondition that fails is a counted failure (`fail "setup: ..."`, or `abort` when nothing after it can run).
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
setup_ok() { printf 'setup: %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf 'FAIL %s%s\n' "$1" "${2:+: $2}"; }

# Starts a command in the background with its output in $LOGS/NAME.{out,err}.log, in the folder $START_DIR
# (default: the repo root); sets LAST_PID (the command's own pid: the subshell execs it).
start_bg() {
    local name=$1
    shift
    (cd "${START_DIR:-$ROOT}" && exec "$@") >"$LOGS/$name.out.log" 2>"$LOGS/$name.err.log" </dev/null &
    LAST_PID=$!
    BG_PIDS+=("$LAST_PID")
    printf 'started %s (pid %s): %s\n' "$name" "$LAST_PID" "$*"
}

# stop_pid PID TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds; sets STOP_RC (exit status) and STOP_SECS.
stop_pid() {
    local pid=$1 timeout=$2 start=$SECONDS
    STOP_RC=0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((SECONDS - start < timeout)); do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            printf 'pid %s still running %ss after SIGTERM: SIGKILL\n' "$pid" "$timeout"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || STOP_RC=$?
    STOP_SECS=$((SECONDS - start))
}

# wait_until TIMEOUT WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds; after TIMEOUT seconds says what it
# waited for and returns 1.
wait_until() {
    local timeout=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            printf 'timed out after %ss waiting for %s\n' "$timeout" "$what"
            return 1
        fi
        sleep 0.1
    done
}

# wait_ready URL PID NAME [curl args...]: polls URL until 200, failing early if PID exits.
wait_ready() {
    local url=$1 pid=$2 name=$3 deadline=$((SECONDS + READY_TIMEOUT))
    shift 3
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            printf '%s exited before %s answered 200\n' "$name" "$url"
            return 1
        fi
        if curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    printf '%s did not answer 200 at %s within %ss\n' "$name" "$url" "$READY_TIMEOUT"
    return 1
}

dump_logs() {
    local f
    for f in "$LOGS"/*.log; do
        [[ -s $f ]] || continue
        case $f in *_test.log) continue ;; esac # already shown as they ran
        printf '\n----- %s (last 100 lines) -----\n' "${f#"$WORK"/}"
        tail -n 100 "$f" || true
    done
}

# add_counts LABEL LOGFILE EXIT_STATUS: adds a Python test script's `LABEL: N passed, M failed` line to the totals.
add_counts() {
    local label=$1 log=$2 rc=$3 line p f
    line="$(grep -E "^$label: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1 || true)"
    if [[ -z $line ]]; then
        fail "$label" "no summary line (the script crashed or hung; exit status $rc)"
        return
    fi
    p="$(sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/' <<<"$line")"
    f="$(sed -E 's/^[^:]+: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")"
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if ((f > 0)); then FAILURES+=("$label: $f test(s)"); fi
    if ((rc != 0 && f == 0)); then fail "$label" "exit status $rc"; fi
}

finish() {
    section "Summary"
    if ((FAILED > 0)); then
        dump_logs
        printf '\nFailed:\n'
        printf '  - %s\n' "${FAILURES[@]}"
        if [[ -n ${SWIFT_FAILURES:-} ]]; then printf '\nswift test:\n%s\n' "$SWIFT_FAILURES"; fi
        printf 'Logs kept in %s\n' "$LOGS"
    fi
    printf 'total: %d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED > 0 || PASSED == 0)); then exit 1; fi
    exit 0
}

# A stage that cannot go on: record it and stop here.
abort() {
    fail "$1" "${2:-}"
    finish
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
on_exit() {
    local rc=$? pid
    for pid in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ -n ${PG_DIR:-} ]]; then "$ROOT/scripts/pg.sh" stop "$PG_DIR" || true; fi
    if ((rc == 0)); then rm -rf "$WORK"; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_cmd() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        printf '%s not found: installing Debian package %s\n' "$1" "$2"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    fi
    command -v "$1" >/dev/null 2>&1 || abort "setup" "$1 is required (Debian package $2)"
}

# ---------------------------------------------------------------------------------------------------------------
# Setup: tools and the Python venv
# ---------------------------------------------------------------------------------------------------------------

section "Setup"
need_cmd curl curl
need_cmd "$PYTHON" python3
need_cmd timeout coreutils

venv_ok() { [[ -x $VPY ]] && "$VPY" -c 'import openai, anthropic; from openai import OpenAI; import opentelemetry.proto' >/dev/null 2>&1; }

if venv_ok; then
    printf 'reusing %s (openai %s)\n' "$VENV" "$("$VPY" -c 'import openai; print(openai.__version__)')"
else
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >"$LOGS/venv.log" 2>&1; then
        # Debian's own python3 needs python3-venv for `-m venv`.
        rm -rf "$VENV"
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
            printf 'python3 -m venv failed: installing python3-venv\n'
            apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            PYTHON=/usr/bin/python3
        fi
        "$PYTHON" -m venv "$VENV" >"$LOGS/venv.log" 2>&1 || abort "setup" "could not create $VENV (see $LOGS/venv.log)"
    fi
    "$VPY" -m pip install --quiet --disable-pip-version-check -r "$E2E/requirements.txt" >"$LOGS/pip.log" 2>&1 ||
        { cat "$LOGS/pip.log"; abort "setup" "pip install -r scripts/e2e/requirements.txt failed"; }
    venv_ok || abort "setup" "openai does not import in $VENV"
    printf 'created %s (openai %s)\n' "$VENV" "$("$VPY" -c 'import openai; print(openai.__version__)')"
fi

# A throwaway PostgreSQL for the storage and multi-replica tests (installed from Debian's packages if missing).
PG_DIR=""
if pg_env="$("$ROOT/scripts/pg.sh" start "$WORK/pg" 2>"$LOGS/pg-start.log")"; then
    eval "$pg_env"
    # With SWITCHBOARD_REQUIRE_POSTGRES=1 the Swift tests that need PostgreSQL fail without it instead of skipping.
    export SWITCHBOARD_TEST_POSTGRES_URL SWITCHBOARD_REQUIRE_POSTGRES=1
    setup_ok "PostgreSQL started ($SWITCHBOARD_TEST_POSTGRES_URL)"
else
    cat "$LOGS/pg-start.log"
    abort "setup: PostgreSQL" "scripts/pg.sh could not start a throwaway cluster; the PostgreSQL tests need one"
fi

# ---------------------------------------------------------------------------------------------------------------
# Unit tests and the build
# ---------------------------------------------------------------------------------------------------------------

section "swift test $*"
# Runs the test binary (built already) with its output in $1 and on the terminal. A run whose output stops for
# SWIFT_TEST_STALL seconds is stopped (status 124) after its threads' stacks are kept in $1.stacks. A stall shows as
# every thread idle with a test pending: a task awaiting what never comes. The one traced (2026-12-07) was the lean
# transport's: a connection closed by its idle limit before the request reached it dropped the request's promise.
run_swift_tests() {
    local log=$1 pid quiet=0 size=-1 now tp tailpid rc=0
    shift
    : >"$log"   # there before `tail` opens it
    # Line-buffered (the test binary inherits `stdbuf`'s setting): written to a file, its output would otherwise go
    # out in 4 KiB blocks, and a stalled run's log would end a few dozen lines before the test that stalled.
    setsid stdbuf -oL -eL swift test --skip-build --disable-xctest "$@" >"$log" 2>&1 &
    pid=$!
    tail -n +1 -f "$log" --pid="$pid" &
    tailpid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        now=$(stat -c %s "$log" 2>/dev/null || echo 0)
        if ((now == size)); then quiet=$((quiet + 5)); else quiet=0; size=$now; fi
        if ((quiet >= ${SWIFT_TEST_STALL:-150})); then
            tp=$(pgrep -s "$pid" -f PackageTests | head -n 1 || true)
            if [[ -n $tp ]] && command -v gdb >/dev/null; then
                gdb -p "$tp" -batch -ex "thread apply all bt 25" >"$log.stacks" 2>&1 || true
            fi
            # `swift test` runs the test binary in a process group of its own, within the session setsid began.
            pkill -KILL -s "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            wait "$tailpid" 2>/dev/null || true
            return 124
        fi
    done
    wait "$pid" || rc=$?
    wait "$tailpid" 2>/dev/null || true
    return "$rc"
}

if [[ ${SKIP_SWIFT_TEST:-0} == 1 ]]; then
    printf 'skipped (SKIP_SWIFT_TEST=1)\n'
else
    swift build --build-tests || abort "swift build --build-tests"
    rc=0
    # Swift Testing only (there are no XCTest tests: its runner would only print "Executed 0 tests").
    # The output is kept too: a failure's lines are repeated in the summary, which is what a CI tail shows.
    # Up to three runs when a run stalls (each is kept with its stacks).
    for attempt in 1 2 3; do
        rc=0
        run_swift_tests "$LOGS/swift-test.log" "$@" || rc=$?
        ((rc == 124)) || break
        kept=$LOGS/swift-test.log
        if ((attempt < 3)); then # the last stalled run's log stays where the summary reads it
            kept=$LOGS/swift-test.stalled-$attempt.log
            mv "$LOGS/swift-test.log" "$kept"
            mv "$LOGS/swift-test.log.stacks" "$kept.stacks" 2>/dev/null || true
        fi
        printf '\nSTALLED swift test (run %d): no output for %s s; output in %s, stacks in %s.\n' \
            "$attempt" "${SWIFT_TEST_STALL:-150}" "$kept" "$kept.stacks"
    done
    if ((rc == 0)); then
        pass "swift test"
    else
        fail "swift test" "exit status $rc$( ((rc == 124)) && printf ' (stalled three times)')"
        # Swift Testing marks a failing test and each recorded issue with ✘.
        SWIFT_FAILURES="$(grep -E '^✘|Fatal error' "$LOGS/swift-test.log" | head -n 40 || true)"
    fi
fi

section "Build"
if [[ -n ${SWITCHBOARD_BIN:-} ]]; then
    BIN="$SWITCHBOARD_BIN"
    printf 'using SWITCHBOARD_BIN=%s\n' "$BIN"
else
    swift build --product switchboard || abort "swift build --product switchboard"
    BIN="$ROOT/.build/debug/switchboard"
fi
[[ -x $BIN ]] || abort "build" "$BIN is not an executable"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# ---------------------------------------------------------------------------------------------------------------
# Ports and configs
# ---------------------------------------------------------------------------------------------------------------

read -r P_MOCK P_GW P_SHUT P_DEMO < <("$PYTHON" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
')
export E2E_UPSTREAM_KEY="sk-upstream-e2e"

# write_config FILE PORT STORAGE
write_config() {
    cat >"$1" <<EOF
server: { listen: "127.0.0.1:$2", max_body_bytes: 8388608, shutdown_grace_s: 10 }
storage: "$3"
auth: { master_key: "sk-master", keys: [ { name: e2e, key: "sk-e2e" } ] }
providers:
  - { name: sim, kind: mock, ttft_ms: 5, tokens_per_s: 2000, seed: 7 }
  - { name: slow, kind: mock, ttft_ms: 50, tokens_per_s: 20, seed: 7, completion_tokens: 40 }
  - { name: remote, kind: openai, base_url: "http://127.0.0.1:$P_MOCK/v1", api_key: "env:E2E_UPSTREAM_KEY" }
  - { name: remote-claude, kind: anthropic, base_url: "http://127.0.0.1:$P_MOCK", api_key: "env:E2E_UPSTREAM_KEY" }
  - { name: remote-gemini, kind: gemini, base_url: "http://127.0.0.1:$P_MOCK", api_key: "env:E2E_UPSTREAM_KEY" }
models:
  - { name: demo, deployments: [ { provider: sim, model: sim-1, price: { input: 1.0, output: 2.0 } } ] }
  - { name: slow, deployments: [ { provider: slow, model: sim-slow } ] }
  - { name: remote, deployments: [ { provider: remote, model: mock-remote } ] }
  - { name: claude, deployments: [ { provider: remote-claude, model: claude-mock } ] }
  - { name: gemini, deployments: [ { provider: remote-gemini, model: gemini-mock } ] }
routing: { retries: 2, timeout_s: 30 }
router:
  models: [auto]
  rules:
    - { name: code, when: { model: auto, content: { regex: ["\`\`\`"] } }, route: { model: remote } }
    - { name: default, when: { model: auto }, route: { tiers: [demo, slow] } }
EOF
}
CFG="$WORK/e2e.yaml"
CFG_SHUT="$WORK/e2e-shutdown.yaml"
write_config "$CFG" "$P_GW" "memory"
write_config "$CFG_SHUT" "$P_SHUT" "sqlite:$WORK/shutdown.db"

# Three mistakes at once: an unknown top-level key, a deployment naming an unknown provider, a missing env var.
BAD_CFG="$WORK/bad.yaml"
cat >"$BAD_CFG" <<'EOF'
server: { listen: "127.0.0.1:8080" }
providers:
  - { name: openai, kind: openai, api_key: "env:DOES_NOT_EXIST_XYZ" }
provders:
  - { name: spare, kind: mock }
models:
  - { name: gpt, deployments: [ { provider: opnai, model: gpt-4o-mini } ] }
EOF

# ---------------------------------------------------------------------------------------------------------------
# switchboard check
# ---------------------------------------------------------------------------------------------------------------

section "switchboard check"
rc=0
"$BIN" check --config "$CFG" >"$LOGS/check-good.log" 2>&1 || rc=$?
if ((rc == 0)); then pass "check: good config exits 0"; else
    cat "$LOGS/check-good.log"
    fail "check: good config exits 0" "exit status $rc"
fi

rc=0
env -u DOES_NOT_EXIST_XYZ "$BIN" check --config "$BAD_CFG" >"$LOGS/check-bad.log" 2>&1 || rc=$?
cat "$LOGS/check-bad.log"
if ((rc == 1)); then pass "check: bad config exits 1"; else fail "check: bad config exits 1" "exit status $rc"; fi
for word in provders opnai DOES_NOT_EXIST_XYZ; do
    if grep -q -- "$word" "$LOGS/check-bad.log"; then pass "check: reports $word"; else
        fail "check: reports $word" "not in the output of check"
    fi
done

rc=0
"$BIN" check --config "$WORK/no-such-config.yaml" >"$LOGS/check-missing.log" 2>&1 || rc=$?
if ((rc == 1)) && grep -q "cannot read config file \"$WORK/no-such-config.yaml\": No such file or directory" "$LOGS/check-missing.log"; then
    pass "check: a missing file says why and exits 1"
else
    fail "check: a missing file says why and exits 1" "exit $rc: $(head -n 2 "$LOGS/check-missing.log")"
fi

rc=0
SWITCHBOARD_MASTER_KEY=sk-admin-change-me "$BIN" check --config examples/gateway.yaml >"$LOGS/check-example.log" 2>&1 || rc=$?
if ((rc == 0)); then pass "check: examples/gateway.yaml is valid"; else
    fail "check: examples/gateway.yaml is valid" "$(tail -n 3 "$LOGS/check-example.log")"
fi

# ---------------------------------------------------------------------------------------------------------------
# switchboard simulate: every shipped scenario through the CLI, as the README runs it
# ---------------------------------------------------------------------------------------------------------------

section "switchboard simulate"
for scenario in "$ROOT"/scenarios/*.yaml; do
    name="$(basename "$scenario" .yaml)"
    [[ "$name" == config ]] && continue
    rc=0
    "$BIN" simulate --config "$ROOT/scenarios/config.yaml" --scenario "$scenario" >"$LOGS/simulate-$name.log" 2>&1 || rc=$?
    if ((rc == 0)) && grep -q '^oracle ' "$LOGS/simulate-$name.log" && grep -q '^p2c-ewma ' "$LOGS/simulate-$name.log"; then
        pass "simulate: $name"
    else
        cat "$LOGS/simulate-$name.log"
        fail "simulate: $name" "exit status $rc or a missing row"
    fi
done
printf 'name: broken\npolicies: [p2c-ewm]\n' >"$LOGS/bad-scenario.yaml"
rc=0
"$BIN" simulate --config "$ROOT/scenarios/config.yaml" --scenario "$LOGS/bad-scenario.yaml" >"$LOGS/simulate-bad.log" 2>&1 || rc=$?
if ((rc == 1)) && grep -q 'did you mean "p2c-ewma"' "$LOGS/simulate-bad.log"; then pass "simulate: a bad scenario exits 1 with its problems"; else
    cat "$LOGS/simulate-bad.log"
    fail "simulate: a bad scenario exits 1 with its problems" "exit status $rc"
fi

# ---------------------------------------------------------------------------------------------------------------
# Gateway + upstream mock, through the openai SDK
# ---------------------------------------------------------------------------------------------------------------

section "Gateway e2e through the openai and anthropic SDKs"
start_bg mock-provider "$BIN" mock-provider --listen "127.0.0.1:$P_MOCK" --ttft-ms 10 --tokens-per-s 50 --seed 7
MOCK_PID=$LAST_PID
if wait_ready "http://127.0.0.1:$P_MOCK/v1/models" "$MOCK_PID" mock-provider -H "Authorization: Bearer any"; then
    setup_ok "mock-provider ready"
else
    abort "setup: mock-provider ready"
fi

start_bg gateway "$BIN" serve --config "$CFG"
GW_PID=$LAST_PID
if wait_ready "http://127.0.0.1:$P_GW/readyz" "$GW_PID" gateway; then setup_ok "gateway ready"; else abort "setup: gateway ready"; fi

rc=0
timeout -k 5 600 "$VPY" "$E2E/sdk_test.py" --base-url "http://127.0.0.1:$P_GW/v1" --key sk-e2e \
    --master-key sk-master --max-body-bytes 8388608 2>&1 | tee "$LOGS/sdk_test.log" || rc=$?
add_counts sdk "$LOGS/sdk_test.log" "$rc"

rc=0
timeout -k 5 300 "$VPY" "$E2E/anthropic_sdk_test.py" --base-url "http://127.0.0.1:$P_GW" --key sk-e2e --models demo,claude,gemini \
    2>&1 | tee "$LOGS/anthropic_sdk_test.log" || rc=$?
add_counts anthropic-sdk "$LOGS/anthropic_sdk_test.log" "$rc"

if kill -0 "$GW_PID" 2>/dev/null; then pass "gateway still running after the SDK tests"; else
    fail "gateway still running after the SDK tests" "it exited"
fi
if grep -Eq 'Fatal error|Program crashed' "$LOGS"/gateway.*.log; then
    fail "gateway log free of crashes" "$(grep -Eh 'Fatal error|Program crashed' "$LOGS"/gateway.*.log | head -n 3)"
else
    pass "gateway log free of crashes"
fi
stop_pid "$GW_PID" 15
if ((STOP_RC == 0)); then pass "gateway exits 0 on SIGTERM when idle (${STOP_SECS}s)"; else
    fail "gateway exits 0 on SIGTERM when idle" "exit status $STOP_RC after ${STOP_SECS}s"
fi

# ---------------------------------------------------------------------------------------------------------------
# Graceful shutdown (its own gateway, started by the script so it can collect the exit status)
# ---------------------------------------------------------------------------------------------------------------

section "Graceful shutdown"
rc=0
timeout -k 5 120 "$VPY" "$E2E/shutdown_test.py" --bin "$BIN" --config "$CFG_SHUT" --listen "127.0.0.1:$P_SHUT" \
    --key sk-e2e --grace 10 --log-dir "$LOGS" --expect-file "$WORK/shutdown.db" >"$LOGS/shutdown_test.log" 2>&1 &
SHUT_PID=$!
BG_PIDS+=("$SHUT_PID")
wait "$SHUT_PID" || rc=$?
cat "$LOGS/shutdown_test.log"
add_counts shutdown "$LOGS/shutdown_test.log" "$rc"
rc=0; "${PG_BIN}/psql" "$SWITCHBOARD_TEST_POSTGRES_URL" -qAt -c "CREATE DATABASE sb_batches" >"$LOGS/pg-createdb-batches.log" 2>&1 || true; timeout -k 5 300 "$VPY" "$E2E/batch_test.py" --bin "$BIN" --log-dir "$LOGS" --postgres "${SWITCHBOARD_TEST_POSTGRES_URL%/*}/sb_batches" >"$LOGS/batch_test.log" 2>&1 || rc=$?; cat "$LOGS/batch_test.log"; add_counts batches "$LOGS/batch_test.log" "$rc"  # files and batches through the openai SDK: a SIGTERM restart mid-batch, three replicas on PostgreSQL (scripts/e2e/batch_test.py)

stop_pid "$MOCK_PID" 10

# ---------------------------------------------------------------------------------------------------------------
# Keys, limits and budgets: one process on SQLite, three replicas on PostgreSQL (keys made with the CLI)
# ---------------------------------------------------------------------------------------------------------------

section "Keys, limits and budgets: one process on SQLite"
rc=0
timeout -k 5 300 "$PYTHON" "$E2E/replicas_test.py" --bin "$BIN" --storage "sqlite:$WORK/single.db" --replicas 1 \
    --label single-replica --log-dir "$LOGS" 2>&1 | tee "$LOGS/single_replica_test.log" || rc=$?
add_counts single-replica "$LOGS/single_replica_test.log" "$rc"

section "Keys, limits and budgets: three replicas on one PostgreSQL"
rc=0
PG_REPLICAS_URL="${SWITCHBOARD_TEST_POSTGRES_URL%/*}/sb_replicas"
if "${PG_BIN}/psql" "$SWITCHBOARD_TEST_POSTGRES_URL" -qAt -c "CREATE DATABASE sb_replicas" >"$LOGS/pg-createdb.log" 2>&1 ||
    psql "$SWITCHBOARD_TEST_POSTGRES_URL" -qAt -c "CREATE DATABASE sb_replicas" >>"$LOGS/pg-createdb.log" 2>&1; then
    timeout -k 5 300 "$PYTHON" "$E2E/replicas_test.py" --bin "$BIN" --storage "$PG_REPLICAS_URL" --replicas 3 \
        --label three-replicas --log-dir "$LOGS" 2>&1 | tee "$LOGS/three_replicas_test.log" || rc=$?
    add_counts three-replicas "$LOGS/three_replicas_test.log" "$rc"
else
    fail "three replicas" "could not create the database: $(cat "$LOGS/pg-createdb.log")"
fi

section "JSON logs and the access log"
P_JSON="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$WORK/json-log.yaml" <<EOF
server: { listen: "127.0.0.1:$P_JSON" }
auth: { keys: [ { name: e2e, key: "sk-e2e" } ] }
logging: { format: json, access_log: true }
providers: [ { name: sim, kind: mock } ]
models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
EOF
start_bg json-log "$BIN" serve --config "$WORK/json-log.yaml"
JSON_PID=$LAST_PID
if wait_ready "http://127.0.0.1:$P_JSON/readyz" "$JSON_PID" json-log; then
    setup_ok "json-log gateway ready"
    rid="$(curl -sS -o /dev/null -D - --max-time 10 -H 'Authorization: Bearer sk-e2e' -H 'Content-Type: application/json' \
        -d '{"model":"demo","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$P_JSON/v1/chat/completions" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-request-id" { print $2 }')"
    stop_pid "$JSON_PID" 15
    if "$PYTHON" - "$LOGS/json-log.err.log" "$rid" <<'PYEOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
docs = [json.loads(l) for l in lines]                      # every line is one JSON object
assert all({"ts", "level", "label", "message"} <= d.keys() for d in docs), docs
access = [d for d in docs if d["message"] == "Request" and d.get("http.path") == "/v1/chat/completions"]
assert access and access[0]["http.status"] == "200" and access[0]["request.id"] == sys.argv[2], access
assert not any("sk-e2e" in l for l in lines), "a key in the log"
PYEOF
    then pass "logging: json lines, with an access-log line carrying the request id"; else
        cat "$LOGS/json-log.err.log"
        fail "logging: json lines, with an access-log line carrying the request id"
    fi
else
    fail "setup: json-log gateway ready"
fi

section "Dashboard in headless Chromium"
need_cmd chromium chromium
rc=0
timeout -k 5 300 "$PYTHON" "$E2E/dashboard_test.py" --bin "$BIN" --work "$WORK/dashboard" --artifacts "$ROOT/.test-artifacts" 2>&1 |
    tee "$LOGS/dashboard_test.log" || rc=$?
add_counts dashboard "$LOGS/dashboard_test.log" "$rc"

section "TLS termination and client certificates"
need_cmd openssl openssl
rc=0
timeout -k 5 300 "$PYTHON" "$E2E/tls_test.py" --bin "$BIN" --work "$WORK/tls" 2>&1 | tee "$LOGS/tls_test.log" || rc=$?
add_counts tls "$LOGS/tls_test.log" "$rc"

section "Hardening: connections, slow clients, deep bodies, clients that go away, descriptor limits"
rc=0
timeout -k 5 300 "$PYTHON" "$E2E/hardening_test.py" --bin "$BIN" --work "$WORK/hardening" 2>&1 | tee "$LOGS/hardening_test.log" || rc=$?
add_counts hardening "$LOGS/hardening_test.log" "$rc"

section "Live configuration reload: 20 reloads by SIGHUP and POST /admin/config/reload while 50 streams run"
rc=0
timeout -k 5 300 "$PYTHON" "$E2E/reload_test.py" --bin "$BIN" --log-dir "$LOGS" 2>&1 | tee "$LOGS/reload_test.log" || rc=$?
add_counts reload "$LOGS/reload_test.log" "$rc"

section "OpenTelemetry tracing to an OTLP collector"
rc=0
timeout -k 5 300 "$VPY" "$E2E/tracing_test.py" --bin "$BIN" --work "$WORK/tracing" 2>&1 | tee "$LOGS/tracing_test.log" || rc=$?
add_counts tracing "$LOGS/tracing_test.log" "$rc"

section "Guardrails: personal data blocked, redacted and pseudonymised through the openai and anthropic SDKs"
rc=0
timeout -k 5 300 "$VPY" "$E2E/guardrails_test.py" --bin "$BIN" --work "$WORK/guardrails" 2>&1 | tee "$LOGS/guardrails_test.log" || rc=$?
add_counts guardrails "$LOGS/guardrails_test.log" "$rc"

section "Responses API: the openai SDK's responses.create and responses.stream in front of every provider kind, stored turns"
rc=0
timeout -k 5 300 "$VPY" "$E2E/responses_test.py" --bin "$BIN" --work "$WORK/responses" 2>&1 | tee "$LOGS/responses_test.log" || rc=$?
add_counts responses "$LOGS/responses_test.log" "$rc"

section "Docs examples (every code block in README.md and docs/*.md)"
# Configs through `check`, shell and SDK examples against a demo gateway of their own, sample output compared with what
# its command prints; a block that is neither checked nor marked `skip (reason)` fails (docs/development.md).
need_cmd openssl openssl
rc=0
timeout -k 5 300 "$VPY" "$ROOT/scripts/check_docs.py" --bin "$BIN" --work "$WORK/docs" 2>&1 | tee "$LOGS/docs_test.log" || rc=$?
add_counts docs "$LOGS/docs_test.log" "$rc"

# ---------------------------------------------------------------------------------------------------------------
# The embedded demo config
# ---------------------------------------------------------------------------------------------------------------

# refuses_to_start NAME WHAT PATTERN ARGS...: `switchboard ARGS...` must exit with status 1 within 30 s (not time out,
# not crash) and say PATTERN on stderr.
refuses_to_start() {
    local name=$1 what=$2 pattern=$3 rc
    shift 3
    set +e
    (cd "$WORK" && timeout 30 "$BIN" "$@") >"$LOGS/$name.out.log" 2>"$LOGS/$name.err.log"
    rc=$?
    set -e
    if ((rc == 1)) && grep -q -- "$pattern" "$LOGS/$name.err.log"; then pass "start-up: $what, and exits 1"; else
        fail "start-up: $what, and exits 1" "exit $rc: $(grep -v 'switchboard.postgres' "$LOGS/$name.err.log" | head -n 2)"
    fi
}

section "Demo config (serve without --config)"
# In $WORK: the demo config keeps its request log in ./switchboard.db.
START_DIR="$WORK" start_bg demo "$BIN" serve --listen "127.0.0.1:$P_DEMO"
DEMO_PID=$LAST_PID
if wait_ready "http://127.0.0.1:$P_DEMO/readyz" "$DEMO_PID" demo; then
    setup_ok "demo gateway ready"
    # The banner may take a moment to reach the log; a server must flush it while running (checked just below).
    wait_until 5 "the demo key in the demo's stdout" grep -q 'sk-switchboard-demo' "$LOGS/demo.out.log" || true
    printf -- '--- demo stdout ---\n'
    cat "$LOGS/demo.out.log"
    printf -- '-------------------\n'
    if grep -Eq "http://(127\.0\.0\.1|localhost):$P_DEMO" "$LOGS/demo.out.log"; then pass "demo: stdout shows the URL"; else
        fail "demo: stdout shows the URL" "no http://127.0.0.1:$P_DEMO in stdout"
    fi
    if grep -q 'sk-switchboard-demo' "$LOGS/demo.out.log"; then pass "demo: stdout shows the demo key"; else
        hint=""
        if grep -q 'sk-switchboard-demo' "$LOGS/demo.err.log"; then hint=" (it is on stderr)"; fi
        fail "demo: stdout shows the demo key" "sk-switchboard-demo not in stdout while the server runs$hint (stdout not flushed?)"
    fi
    if grep -q 'curl' "$LOGS/demo.out.log"; then pass "demo: stdout shows a curl example"; else
        fail "demo: stdout shows a curl example" "no curl in stdout"
    fi

    # The README's CLI, run in the demo's folder without --config, works on the demo's storage: a key made there
    # is taken by the running demo.
    set +e
    (cd "$WORK" && "$BIN" keys create --name readme-ci --models 'demo*' --rpm 100) >"$WORK/readme-key.json" 2>"$LOGS/readme-key.err.log"
    rc=$?
    set -e
    readme_key="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$WORK/readme-key.json" 2>/dev/null || true)"
    code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $readme_key" -H 'Content-Type: application/json' \
        -d '{"model":"demo","messages":[{"role":"user","content":"Hello"}]}' "http://127.0.0.1:$P_DEMO/v1/chat/completions" || true)"
    if ((rc == 0)) && [[ -n $readme_key && $code == 200 ]] && grep -q "storage: sqlite:switchboard.db ($WORK" "$LOGS/readme-key.err.log"; then
        pass "demo: a key made with the CLI in the demo's folder (no --config) is taken by the demo"
    else
        fail "demo: a key made with the CLI in the demo's folder is taken by the demo" "exit $rc, HTTP $code: $(tail -n 2 "$LOGS/readme-key.err.log")"
    fi

    # The README's short tour, run as written (in the demo's folder, `switchboard` on the PATH), on the demo's port.
    "$PYTHON" - "$ROOT/README.md" "$P_DEMO" >"$WORK/tour.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"### A short tour\n.*?```sh\n(.*?)```", text, re.S).group(1)
print("set -euo pipefail")
print(block.replace("127.0.0.1:8080", "127.0.0.1:" + sys.argv[2]))
PY
    set +e
    mkdir -p "$WORK/bin" && ln -sf "$BIN" "$WORK/bin/switchboard"
    (cd "$WORK" && PATH="$WORK/bin:$PATH" bash "$WORK/tour.sh") >"$LOGS/tour.out.log" 2>"$LOGS/tour.err.log"
    rc=$?
    set -e
    if ((rc == 0)) && grep -q '"choices"' "$LOGS/tour.out.log" && grep -q '"next_before"\|"records"\|"data"' "$LOGS/tour.out.log"; then
        pass "README: the short tour runs as written (a key made with the CLI answers; the request log lists it)"
    else
        fail "README: the short tour runs as written" "exit $rc: $(tail -n 3 "$LOGS/tour.err.log") $(head -c 300 "$LOGS/tour.out.log")"
    fi

    # A second gateway on the port the demo holds must say so and fail, not exit 0.
    refuses_to_start demo-twice "a port in use is named, with the reason" \
        "could not listen on 127.0.0.1:$P_DEMO: Address already in use" serve --listen "127.0.0.1:$P_DEMO"

    code="$(curl -sS -o "$WORK/demo-chat.json" -w '%{http_code}' --max-time 30 \
        -H 'Authorization: Bearer sk-switchboard-demo' -H 'Content-Type: application/json' \
        -d '{"model":"demo","messages":[{"role":"user","content":"Hello from test.sh"}]}' \
        "http://127.0.0.1:$P_DEMO/v1/chat/completions" || true)"
    if [[ $code == 200 ]] && "$PYTHON" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["choices"][0]["message"]["content"].strip(), doc
' "$WORK/demo-chat.json" 2>"$LOGS/demo-chat-check.log"; then
        pass "demo: curl chat on demo returns 200 with content"
    else
        fail "demo: curl chat on demo returns 200 with content" "HTTP $code: $(head -c 300 "$WORK/demo-chat.json" 2>/dev/null)"
    fi

    code="$(curl -sS -o "$WORK/demo-models.json" -w '%{http_code}' --max-time 10 \
        -H 'Authorization: Bearer sk-switchboard-demo' "http://127.0.0.1:$P_DEMO/v1/models" || true)"
    if [[ $code == 200 ]] && "$PYTHON" -c '
import json, sys
ids = {m["id"] for m in json.load(open(sys.argv[1]))["data"]}
missing = {"demo", "demo-fast", "demo-cheap"} - ids
assert not missing, f"missing {missing} in {ids}"
' "$WORK/demo-models.json" 2>"$LOGS/demo-models-check.log"; then
        pass "demo: /v1/models lists demo, demo-fast, demo-cheap"
    else
        fail "demo: /v1/models lists demo, demo-fast, demo-cheap" "HTTP $code: $(tail -n 1 "$LOGS/demo-models-check.log")"
    fi
else
    fail "setup: demo gateway ready"
fi
stop_pid "$DEMO_PID" 15
if ((STOP_RC == 0)); then pass "demo: exits 0 on SIGTERM (${STOP_SECS}s)"; else
    fail "demo: exits 0 on SIGTERM" "exit status $STOP_RC after ${STOP_SECS}s"
fi

section "Start-up failures and --listen :PORT"
# Storage that cannot be reached, and a TLS file that cannot be read: a clear reason and a non-zero exit, at once.
cat >"$WORK/pg-down.yaml" <<YAML
storage: "postgres://switchboard@127.0.0.1:1/switchboard"
providers: [ { name: sim, kind: mock } ]
models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
YAML
refuses_to_start pg-down "unreachable PostgreSQL is named, with the reason" \
    "cannot reach PostgreSQL at 127.0.0.1:1: Connection refused" serve --config "$WORK/pg-down.yaml"
cat >"$WORK/tls-missing.yaml" <<YAML
server: { listen: "127.0.0.1:0", tls: { cert_file: "$WORK/no-such-cert.pem", key_file: "$WORK/no-such-key.pem" } }
providers: [ { name: sim, kind: mock } ]
models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
YAML
refuses_to_start tls-missing "an unreadable TLS file is named at its key path" "server.tls.cert_file" serve --config "$WORK/tls-missing.yaml"
printf 'not a MaxMind database' >"$WORK/not-a-db.mmdb"
cat >"$WORK/geoip-bad.yaml" <<YAML
server: { listen: "127.0.0.1:0" }
providers: [ { name: sim, kind: mock } ]
models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
router: { geoip: { database: "$WORK/not-a-db.mmdb" } }
YAML
refuses_to_start geoip-bad "a malformed GeoIP database is named at its key path" "router.geoip.database" serve --config "$WORK/geoip-bad.yaml"
# `--listen :PORT` keeps the configured host (127.0.0.1) and takes the port.
P_COLON="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$WORK/colon.yaml" <<YAML
providers: [ { name: sim, kind: mock } ]
models: [ { name: demo, deployments: [ { provider: sim, model: m } ] } ]
YAML
start_bg colon "$BIN" serve --config "$WORK/colon.yaml" --listen ":$P_COLON"
COLON_PID=$LAST_PID
if wait_ready "http://127.0.0.1:$P_COLON/readyz" "$COLON_PID" colon; then
    pass "start-up: --listen :$P_COLON listens on 127.0.0.1:$P_COLON"
else
    fail "start-up: --listen :PORT listens on the configured host" "$(tail -n 2 "$LOGS/colon.err.log")"
fi
stop_pid "$COLON_PID" 15

finish
