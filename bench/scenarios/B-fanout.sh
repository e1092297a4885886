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
    run_pubsub "$1" "$2" 1 "$CONNS" "$PUBLISHERS" 0 "$PIPELINE"
}

bench_init
scenario_loop "$SCENARIO" body
