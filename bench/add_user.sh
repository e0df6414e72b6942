#!/usr/bin/env bash
# Benchmark (not a test): POST /add_user latency and throughput of darkerserver
#   1. with notifications off,
#   2. with notifications on, through wecom-relay (wecom_notify posts in the
#      background),
#   3. with the "original plan": a synchronous WeCom message/send inside the
#      handler (bench/darkerserver_sync.py),
# all against the WeCom emulator answering after LATENCY_MS, as one table.
#
# It builds the release binary (cargo build --release), starts
# `wecom-relay emulator` with a generated corp (fixed credentials, members
# zhangsan and lisi), `wecom-relay serve` with a generated config (memory
# queue, user-added to zhangsan, a bearer token), and three darkerservers;
# everything it started is stopped on exit.
#
# Usage: bench/add_user.sh
# Environment (all optional):
#   N=1000 C=16 WARMUP=50  requests measured, concurrent connections, and
#                          requests sent first, unmeasured
#   LATENCY_MS=200         latency of every emulated WeCom API call
#   BIN=target/release/wecom-relay  (under $CARGO_TARGET_DIR when that is set)
#   SKIP_BUILD=1           do not run cargo build --release
#   PYTHON=python3
# Logs, the generated setup and config, and the results go to
# bench/out/add_user-<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
N=${N:-1000}
C=${C:-16}
WARMUP=${WARMUP:-50}
LATENCY_MS=${LATENCY_MS:-200}
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/wecom-relay}
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

# The emulated corp. The credentials are fixed: the emulator is given them
# (--setup), the relay and the synchronous variant use them. Each variant
# notifies its own member, so that one's 30-a-minute quota (WeCom's, which
# the emulator enforces) does not touch the other's.
CORP_ID=wwbench0000000001
SECRET=bench-secret-0123456789abcdef0123456789abcdef
AGENT_ID=1000002
RELAY_MEMBER=zhangsan
SYNC_MEMBER=lisi

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

# relay_get PATH: GET the relay's admin API (JSON on stdout).
relay_get() {
    "$PY" - "$RELAY_URL$1" "$RELAY_TOKEN" <<'PY'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
request = urllib.request.Request(
    sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]}
)
with opener.open(request, timeout=5) as response:
    sys.stdout.write(response.read().decode())
PY
}

# pending: how many notifications the relay still has queued or sending.
pending() {
    local status total=0 n
    for status in queued sending; do
        n=$(relay_get "/notifications?status=$status&limit=1000" |
            "$PY" -c 'import json, sys
print(len(json.load(sys.stdin)["notifications"]))') || return 1
        total=$((total + n))
    done
    echo "$total"
}

# emulator_count messages|dropped MEMBER: messages the emulator delivered to
# MEMBER so far, or dropped (over WeCom's per-member limit) or suppressed.
emulator_count() {
    "$PY" - "$EMU_URL/_emulator/$1?user=$2" <<'PY'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(sys.argv[1], timeout=5) as response:
    print(len(json.load(response)))
PY
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

EMU_PORT=$(free_port)
RELAY_PORT=$(free_port)
EMU_URL=http://127.0.0.1:$EMU_PORT
RELAY_URL=http://127.0.0.1:$RELAY_PORT
RELAY_TOKEN=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

cat >"$OUT/emulator.toml" <<TOML
# The emulated corp (wecom-relay emulator --setup): one app that sees
# both members.
corp_id = "$CORP_ID"

[[apps]]
agent_id = $AGENT_ID
secret = "$SECRET"
name = "bench"
allow_users = ["$RELAY_MEMBER", "$SYNC_MEMBER"]

[[members]]
userid = "$RELAY_MEMBER"
name = "张三"
department = [1]

[[members]]
userid = "$SYNC_MEMBER"
name = "李四"
department = [1]

[[parties]]
id = 1
name = "总部"
TOML

log "WeCom emulator on $EMU_URL, latency $LATENCY_MS ms"
start emulator "$BIN" emulator --listen "127.0.0.1:$EMU_PORT" \
    --setup "$OUT/emulator.toml"
wait_http emulator "$EMU_URL/" "$LAST_PID"
set_latency "$EMU_URL" "$LATENCY_MS"

log "wecom-relay on $RELAY_URL"
(
    umask 077 # the config holds the bearer token
    cat >"$OUT/relay.toml" <<TOML
# wecom-relay serve --config: the secret comes from WECOM_RELAY_WECOM__SECRET.
[server]
listen = "127.0.0.1:$RELAY_PORT"
auth_tokens = ["$RELAY_TOKEN"]

[wecom]
api_base = "$EMU_URL"
corp_id = "$CORP_ID"
agent_id = $AGENT_ID

[templates]
dir = "$ROOT/templates"

[queue]
backend = "memory"

[events.user-added]
template = "user-added.txt"
msgtype = "text"
to_user = ["$RELAY_MEMBER"]
TOML
)
start relay env WECOM_RELAY_WECOM__SECRET="$SECRET" \
    "$BIN" serve --config "$OUT/relay.toml"
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
    --corp-id "$CORP_ID" --agent-id "$AGENT_ID" --to-user "$SYNC_MEMBER" \
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
# ...and the relay finish deciding what to send now and what to hold back
# (60 s at most), for the figures under the table.
for _ in $(seq 600); do
    left=$(pending) || die "cannot read the relay's queue; see $OUT/relay.log"
    ((left == 0)) && break
    sleep 0.1
done
relay_inbox=$(emulator_count messages "$RELAY_MEMBER")
held=$(count 'holding back for a digest' "$OUT/relay.log")
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
    echo "relay: $RELAY_MEMBER has received $relay_inbox message(s) so far;" \
        "$held notification(s) are held back for digests"
    echo "  (expected: the relay accepts every notification at once, but sends"
    echo "  one member at most 30 a minute, WeCom's own limit, and merges the"
    echo "  rest into digest messages sent as the window allows; none is lost)"
    echo "emulator, at the end: $RELAY_MEMBER received" \
        "$(emulator_count messages "$RELAY_MEMBER") message(s), WeCom's limit" \
        "dropped $(emulator_count dropped "$RELAY_MEMBER") (should be 0)"
    echo "synchronous WeCom sends that failed:" \
        "$(count 'message/send failed' "$OUT/darker-sync.log")"
} | tee "$OUT/results.txt"
log "logs and results in $OUT"
