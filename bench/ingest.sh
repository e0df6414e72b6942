#!/usr/bin/env bash
# Benchmark (not a test): how fast the relay accepts POST /notify/user-added while it delivers
# to the WeCom emulator, with the durable (SQLite) and the in-memory queue.
# wrk, 32 connections, 10 s per queue; prints accepted/s, p50/p99 latency and peak RSS.
#
#   bench/ingest.sh            (needs wrk: apt-get install wrk)
#   DURATION=30s CONNECTIONS=64 bench/ingest.sh
#   QUEUES=sqlite bench/ingest.sh                 (one queue only)
#   BIN=/tmp/old/wecom-relay bench/ingest.sh      (a given build, e.g. to compare before/after)
#   QUEUE_CAPACITY=1000000 bench/ingest.sh        (ingest alone: delivery to the emulator is slower
#                                                  than ingest, so the default 100000 unfinished fill
#                                                  up within seconds and the rest are 503s, "failed")
# Builds into $CARGO_TARGET_DIR when set. The load average is printed because on a shared machine
# it moves these figures more than most changes do.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
QUEUES=${QUEUES:-sqlite memory}
CAPACITY=${QUEUE_CAPACITY:+[delivery]
queue_capacity = $QUEUE_CAPACITY}
command -v wrk >/dev/null || { echo "bench/ingest.sh needs wrk: apt-get install wrk" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-target}/release/wecom-relay
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }

SECRET=bench-secret-0123456789abcdef0123456789abcdef012
TOKEN=bench-token-0123456789abcdef
EMU_PORT=$(free_port)
# The emulator's per-member drop rule is lifted: this measures ingest, not WeCom's limits.
cat > "$WORK/corp.toml" <<TOML
corp_id = "wwbench0000000001"
member_per_minute = 100000000
member_per_hour = 100000000
[[apps]]
agent_id = 1000002
secret = "$SECRET"
name = "bench"
allow_parties = [1]
[[members]]
userid = "zhangsan"
name = "张三"
department = [1]
[[parties]]
id = 1
name = "总部"
TOML
"$BIN" emulator --listen "127.0.0.1:$EMU_PORT" --setup "$WORK/corp.toml" >/dev/null 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$EMU_PORT/_emulator/counters"

run() { # $1 = backend
  local port; port=$(free_port)
  cat > "$WORK/relay-$1.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
auth_tokens = ["$TOKEN"]
[wecom]
api_base = "http://127.0.0.1:$EMU_PORT"
corp_id = "wwbench0000000001"
agent_id = 1000002
[templates]
dir = "$PWD/templates"
[queue]
backend = "$1"
path = "$WORK/queue-$1.sqlite"
[limits]
per_member_per_minute = 100000000
per_member_per_hour = 100000000
[events.user-added]
template = "user-added.txt"
to_user = ["zhangsan"]
$CAPACITY
TOML
  RUST_LOG=warn WECOM_RELAY_WECOM__SECRET=$SECRET "$BIN" serve --config "$WORK/relay-$1.toml" &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/healthz"
  local sent_before; sent_before=$(curl -fsS "http://127.0.0.1:$EMU_PORT/_emulator/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["delivered"])')
  local out; out=$(BENCH_TOKEN=$TOKEN wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/ingest.lua "http://127.0.0.1:$port")
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  local sent_after; sent_after=$(curl -fsS "http://127.0.0.1:$EMU_PORT/_emulator/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["delivered"])')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$out" | awk -v b="$1" -v rss="$rss" -v d="$((sent_after - sent_before))" '/^RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
    printf "%-8s %12.0f %10.2f %10.2f %8d %10.1f %12d\n", b, (r["requests"] - r["failed"]) / r["seconds"],
      r["p50_us"] / 1000, r["p99_us"] / 1000, r["failed"], rss / 1024, d }'
}

echo "POST /notify/user-added, $CONNECTIONS connections, $DURATION per queue, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); queue_capacity ${QUEUE_CAPACITY:-default}; delivering to the emulator meanwhile"
printf "%-8s %12s %10s %10s %8s %10s %12s\n" queue "accepted/s" "p50 ms" "p99 ms" failed "peak RSS MB" "delivered"
for queue in $QUEUES; do run "$queue"; done
