#!/usr/bin/env bash
# Scenario A, idle: as many idle SSE connections as one server process's limits allow
# (19,000 under the open-files limit of 20,000), held for 5 s. Measures the connect rate and
# the server's RSS growth per connection (RSS of the main process and its children: nginx's
# workers, Pushpin's condure/zurl/proxy/handler).
# Pushpin connects at PUSHPIN_CONNECT_RATE (500/s; see connect_rate in bench/lib.sh), so its
# connect rate here is that cap, not its limit.
#   REPEATS=3 CONNS=19000 CONNECT_RATE=5000 PUSHPIN_CONNECT_RATE=500 DURATION=5
#   SERVERS="revenprox nchan pushpin"
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SCENARIO=A-idle
CONNS="${CONNS:-19000}"
DURATION="${DURATION:-5}"

body() {
    local out="$1" tags="$2" limit rate
    rate="$(connect_rate)"
    limit=$((CONNS / rate + DURATION + 60))
    run_gen "$out" "$tags" "$limit" sub \
        --sub-url "$SUB_URL" --topics 1 \
        --conns "$CONNS" --procs 2 --source-ips 127.0.0.1-127.0.0.40 \
        --connect-rate "$rate" --duration "$DURATION" \
        --server-pid "$SERVER_PID" --timeout $((limit - 10)) --json
}

bench_init
scenario_loop "$SCENARIO" body
