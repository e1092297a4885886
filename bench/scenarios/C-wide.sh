#!/usr/bin/env bash
# Scenario C, wide: 10,000 subscribers over 100 topics (100 each), publishing round-robin
# over the topics at the highest rate for 10 s, 100-byte events. Measures delivered
# events/s, latency percentiles and the server's CPU.
#   REPEATS=3 CONNS=10000 TOPICS=100 PUBLISHERS=1 PIPELINE=1 DURATION=10 SIZE=100
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SCENARIO=C-wide
CONNS="${CONNS:-10000}"
TOPICS="${TOPICS:-100}"
PUBLISHERS="${PUBLISHERS:-1}"
PIPELINE="${PIPELINE:-1}"
DURATION="${DURATION:-10}"
SIZE="${SIZE:-100}"
SETTLE="${SETTLE:-3}"

body() {
    run_pubsub "$1" "$2" "$TOPICS" "$CONNS" "$PUBLISHERS" 0 "$PIPELINE"
}

bench_init
scenario_loop "$SCENARIO" body
