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
    run_pubsub "$1" "$2" 1 "$CONNS" 1 "$PUB_RATE" 1
}

bench_init
scenario_loop "$SCENARIO" body
