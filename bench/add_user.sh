#!/usr/bin/env bash
# Benchmark (not a test): POST /add_user latency and throughput of darkerserver
#   1. with notifications off,
#   2. with notifications on, through wecom-relay (wecom_notify posts in the
#      background),
#   3. with the "original plan": a synchronous WeCom message/send inside the
#      handler (bench/darkerserver_sync.py),
# all against the WeCom emulator answering after LATENCY_MS, as one table.
#
# Usage: bench/add_user.sh
# Environment (all optional):
#   N=1000 C=16 WARMUP=50  requests measured, concurrent connections, and
#                          requests sent first, unmeasured
#   LATENCY_MS=200         latency of every emulated WeCom API call
#   BIN=target/release/wecom-relay
#   SKIP_BUILD=1           do not run cargo build --release
#   EMU_CORP_ID EMU_SECRET EMU_AGENT_ID  the emulator's demo app
#                          (see emulator_credentials)
#   PYTHON=python3
# Logs, the generated relay config and the results go to
# bench/out/add_user-<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
N=${N:-1000}
C=${C:-16}
WARMUP=${WARMUP:-50}
LATENCY_MS=${LATENCY_MS:-200}
BIN=${BIN:-$ROOT/target/release/wecom-relay}
DARKER=$ROOT/integrations/darkerserver/darkerserver.py
OUT=$ROOT/bench/out/add_user-$(date +%Y%m%d-%H%M%S)

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap then stops everything

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# The WeCom emulator's demo app, used by the relay config and by the
# synchronous variant. The orchestration that starts the emulator fills
# EMU_CORP_ID, EMU_SECRET and EMU_AGENT_ID with the credentials the emulator
# accepts; the values after :- are used when they are not set.
emulator_credentials() {
    CORP_ID=${EMU_CORP_ID:-wwbench0000000001}
    SECRET=${EMU_SECRET:-bench-secret-0123456789abcdef0123456789abcdef}
    AGENT_ID=${EMU_AGENT_ID:-1000002}
    local word='^[A-Za-z0-9_-]+$'
    [[ $CORP_ID =~ $word && $SECRET =~ $word && $AGENT_ID =~ ^[0-9]+$ ]] ||
        die "EMU_CORP_ID and EMU_SECRET must be letters, digits, '-' or '_';" \
            "EMU_AGENT_ID a number"
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start NAME CMD...: run CMD in the background, output in $OUT/NAME.log;
# its pid goes to PIDS (stopped on exit) and LAST_PID.
start() {
    local name=$1
    shift
    "$@" >"$OUT/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_http NAME URL PID: until URL answers with any HTTP status; gives up
# after 30 s, or as soon as process PID has exited.
wait_http() {
    local pid=$3 _
    for _ in $(seq 300); do
        "$PY" - "$2" <<'PY' && return 0
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    opener.open(sys.argv[1], timeout=1).close()
except urllib.error.HTTPError:
    pass  # it answers
except OSError:
    sys.exit(1)
PY
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$OUT/$1.log" >&2 || true
    die "$1 did not come up at $2; see $OUT/$1.log"
}

# set_latency URL MS: make the emulator answer every API call after MS ms.
set_latency() {
    "$PY" - "$1" "$2" <<'PY' ||
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
request = urllib.request.Request(
    sys.argv[1] + "/_emulator/latency",
    data=json.dumps({"ms": int(sys.argv[2])}).encode(),
    headers={"Content-Type": "application/json"},
)
opener.open(request, timeout=5).close()
PY
        die "could not set the emulator latency; see $OUT/emulator.log"
}

# run_load LABEL PORT NAME: measure one darkerserver; figures in NAME.json.
run_load() {
    log "load: $1"
    "$PY" "$ROOT/bench/load.py" --url "http://127.0.0.1:$2/add_user" \
        -n "$N" -c "$C" --warmup "$WARMUP" --label "$1" \
        --json-out "$OUT/$3.json" ||
        log "$1: some requests failed (see the table)"
}

# count REGEX FILE: how many lines of FILE match REGEX.
count() { grep -cE "$1" "$2" || true; }
ACCEPTED='accepted by the relay'
FAILED='notification for .* failed:'
DROPPED='notification for .* dropped:'

mkdir -p "$OUT"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
fi
[[ -x $BIN ]] || die "$BIN not found: cargo build --release, or set BIN"
emulator_credentials

EMU_PORT=$(free_port)
RELAY_PORT=$(free_port)
EMU_URL=http://127.0.0.1:$EMU_PORT
RELAY_URL=http://127.0.0.1:$RELAY_PORT
RELAY_TOKEN=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

log "WeCom emulator on $EMU_URL, latency $LATENCY_MS ms"
start emulator "$BIN" emulator --listen "127.0.0.1:$EMU_PORT"
wait_http emulator "$EMU_URL/" "$LAST_PID"
set_latency "$EMU_URL" "$LATENCY_MS"

log "wecom-relay on $RELAY_URL"
(
    umask 077 # the config holds the app secret and the bearer token
    cat >"$OUT/relay.toml" <<TOML
[server]
listen = "127.0.0.1:$RELAY_PORT"
auth_tokens = ["$RELAY_TOKEN"]

[wecom]
api_base = "$EMU_URL"
corp_id = "$CORP_ID"
agent_id = $AGENT_ID
secret = "$SECRET"
TOML
)
start relay "$BIN" serve --config "$OUT/relay.toml"
wait_http relay "$RELAY_URL/healthz" "$LAST_PID"

OFF_PORT=$(free_port)
ON_PORT=$(free_port)
SYNC_PORT=$(free_port)
log "darkerservers: off :$OFF_PORT, relay :$ON_PORT, sync :$SYNC_PORT"
start darker-off env -u WECOM_RELAY_URL -u WECOM_RELAY_TOKEN \
    "$PY" "$DARKER" --port "$OFF_PORT" --data "$OUT/off.jsonl" --quiet
OFF_PID=$LAST_PID
start darker-on \
    env WECOM_RELAY_URL="$RELAY_URL" WECOM_RELAY_TOKEN="$RELAY_TOKEN" \
    "$PY" "$DARKER" --port "$ON_PORT" --data "$OUT/on.jsonl" --quiet
ON_PID=$LAST_PID
start darker-sync \
    env -u WECOM_RELAY_URL -u WECOM_RELAY_TOKEN WECOM_SECRET="$SECRET" \
    "$PY" "$ROOT/bench/darkerserver_sync.py" --wecom-url "$EMU_URL" \
    --corp-id "$CORP_ID" --agent-id "$AGENT_ID" \
    --port "$SYNC_PORT" --data "$OUT/sync.jsonl" --quiet
SYNC_PID=$LAST_PID
wait_http darker-off "http://127.0.0.1:$OFF_PORT/users" "$OFF_PID"
wait_http darker-on "http://127.0.0.1:$ON_PORT/users" "$ON_PID"
wait_http darker-sync "http://127.0.0.1:$SYNC_PORT/users" "$SYNC_PID"

run_load "notifications off" "$OFF_PORT" off
run_load "on, via wecom-relay" "$ON_PORT" on
# Let the "on" server finish handing its notifications to the relay, so that
# traffic does not overlap the next run (60 s at most).
for _ in $(seq 600); do
    done_count=$(count "$ACCEPTED|$FAILED|$DROPPED" "$OUT/darker-on.log")
    ((done_count >= N + WARMUP)) && break
    sleep 0.1
done
run_load "original plan (sync WeCom)" "$SYNC_PORT" sync

{
    echo
    echo "POST /add_user: $N requests over $C keep-alive connections" \
        "(+$WARMUP warm-up); WeCom emulator latency $LATENCY_MS ms;"
    echo "all processes on this machine: $(nproc 2>/dev/null || echo '?') CPUs"
    echo
    "$PY" "$ROOT/bench/table.py" "$OUT"/{off,on,sync}.json
    echo
    on_log=$OUT/darker-on.log
    echo "notifications handed to the relay (darkerserver log):" \
        "accepted $(count "$ACCEPTED" "$on_log")," \
        "failed $(count "$FAILED" "$on_log")," \
        "dropped $(count "$DROPPED" "$on_log")"
    echo "synchronous WeCom sends that failed:" \
        "$(count 'message/send failed' "$OUT/darker-sync.log")"
} | tee "$OUT/results.txt"
log "logs and results in $OUT"
