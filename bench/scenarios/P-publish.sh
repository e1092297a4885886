#!/usr/bin/env bash
# Scenario P, publish: acknowledged publishes/s with no subscribers, 16 keep-alive
# publishers each waiting for its acknowledgement, 10 s, 100-byte events; publisher i
# publishes to topic t<i> (16 topics: the generator gives topic t to publisher t % C).
# (Pushpin's publish API answers "Connection: close", so its publishers reconnect for
# every publish.)
#   REPEATS=3 PUBLISHERS=16 PIPELINE=1 DURATION=10 SIZE=100 TOPICS=16
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SCENARIO=P-publish
PUBLISHERS="${PUBLISHERS:-16}"
PIPELINE="${PIPELINE:-1}"
DURATION="${DURATION:-10}"
SIZE="${SIZE:-100}"
TOPICS="${TOPICS:-16}"

body() {
    local out="$1" tags="$2" limit
    limit=$((DURATION + 60))
    run_gen "$out" "$tags" "$limit" pub \
        --pub-url "$PUB_URL" --pub-format "$PUB_FORMAT" --topics "$TOPICS" \
        --publishers "$PUBLISHERS" --pub-rate 0 --pipeline "$PIPELINE" \
        --source-ips 127.0.0.1-127.0.0.40 \
        --duration "$DURATION" --size "$SIZE" \
        --server-pid "$SERVER_PID" --timeout $((limit - 10)) --json
}

bench_init
scenario_loop "$SCENARIO" body
