#!/usr/bin/env bash
# Scenario D5, latency: 10,000 subscribers on one topic, 5 publishes/s for 10 s (50,000
# deliveries/s in bursts of 10,000). Measures end-to-end latency percentiles: publish sent
# to event received, over every subscriber.
#   REPEATS=3 CONNS=10000 PUB_RATE=5 DURATION=10 SIZE=100
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SCENARIO=D5-latency
CONNS="${CONNS:-10000}"
PUB_RATE="${PUB_RATE:-5}"
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
        --publishers 1 --pub-rate "$PUB_RATE" --pipeline 1 \
        --duration "$DURATION" --size "$SIZE" --settle "$SETTLE" \
        --server-pid "$SERVER_PID" --timeout $((limit - 10)) --json
}

bench_init
scenario_loop "$SCENARIO" body
