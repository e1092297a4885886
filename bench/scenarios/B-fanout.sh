#!/usr/bin/env bash
# Scenario B, fan-out: 1,000 subscribers on one topic, one publisher at its highest rate
# (each publish waits for the previous one's acknowledgement) for 10 s, 100-byte events.
# Measures delivered events/s, end-to-end latency percentiles and the server's CPU.
#   REPEATS=3 CONNS=1000 PUBLISHERS=1 PIPELINE=1 DURATION=10 SIZE=100
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SCENARIO=B-fanout
CONNS="${CONNS:-1000}"
PUBLISHERS="${PUBLISHERS:-1}"
PIPELINE="${PIPELINE:-1}"
DURATION="${DURATION:-10}"
SIZE="${SIZE:-100}"
SETTLE="${SETTLE:-3}"

body() {
    local out="$1" tags="$2" limit rate
    rate="$(connect_rate)"
    limit=$((CONNS / rate + DURATION + SETTLE + 90))
    run_gen "$out" "$tags" "$limit" run \
        --sub-url "$SUB_URL" --pub-url "$PUB_URL" --pub-format "$PUB_FORMAT" \
        --topics 1 --conns "$CONNS" --procs 2 --connect-rate "$rate" \
        --source-ips 127.0.0.1-127.0.0.40 \
        --publishers "$PUBLISHERS" --pub-rate 0 --pipeline "$PIPELINE" \
        --duration "$DURATION" --size "$SIZE" --settle "$SETTLE" \
        --server-pid "$SERVER_PID" --timeout $((limit - 10)) --json
}

bench_init
scenario_loop "$SCENARIO" body
