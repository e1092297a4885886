#!/usr/bin/env bash
# The concentrator: one upstream SSE back end feeding many clients through one RevenProx.
# The back end is a RevenProx too (it serves text/event-stream and takes the publishes);
# the proxy reads it through `upstreams` and serves CONNS clients of /upstream/src/t0 (held by
# several generator processes). Prints, per run, the generator's summary, how many
# connections the back end saw for the topic during the run (must be 1), and a baseline in
# the same run: the same clients directly on the back end.
# Latency is from the publish at the back end to the client's read (so it includes the back
# end's own delivery: the proxy's share is the difference with the baseline).
#   CONNS=19000 PUB_RATE=20 DURATION=5 SIZE=100 PROXY_WORKERS=1 bench/upstream.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${REVENPROX_BIN:-$ROOT/build/src/cli/revenprox}"
GEN="${REVENPROX_BENCH:-$ROOT/build/bench/revenprox-bench}"
CONNS="${CONNS:-19000}"
PUB_RATE="${PUB_RATE:-20}"
DURATION="${DURATION:-5}"
SIZE="${SIZE:-100}"
PROXY_WORKERS="${PROXY_WORKERS:-1}"
ORIGIN_PORT="${ORIGIN_PORT:-18391}"
PROXY_PORT="${PROXY_PORT:-18392}"
RUN="$(mktemp -d /tmp/rp-upstream-bench.XXXXXX)"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap cleanup EXIT

start() { # NAME PORT ARGS...: starts a RevenProx, waits for it to listen
    local name="$1" port="$2"
    shift 2
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$RUN/$name" --log-level warn \
        --access-log false --max-connections-per-ip 0 --connect-rate 0 "$@" \
        >"$RUN/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$RUN/$name.log" >&2
    exit 1
}

backend_subscribers() {
    curl -s "http://127.0.0.1:$ORIGIN_PORT/topics/t0" | sed -n 's/.*"subscribers":\([0-9-]*\).*/\1/p'
}

gen() { # SUB_URL SERVER_PID
    "$GEN" run --sub-url "$1" --pub-url "http://127.0.0.1:$ORIGIN_PORT/publish/t{topic}" \
        --conns "$CONNS" --pub-rate "$PUB_RATE" --duration "$DURATION" --size "$SIZE" \
        --server-pid "$2" --timeout 180 --json
}

ulimit -n "$(ulimit -Hn)"
start origin "$ORIGIN_PORT" --workers 1
# `always`: the proxy is streaming before the clients come, as a pre-connected feed is.
start proxy "$PROXY_PORT" --workers "$PROXY_WORKERS" \
    --upstreams "src=http://127.0.0.1:$ORIGIN_PORT/events" --upstream-always src/t0
ORIGIN_PID="${PIDS[0]}"
PROXY_PID="${PIDS[1]}"

echo "== through the proxy: $CONNS clients, back end -> RevenProx -> clients"
(sleep $((DURATION / 2 + 3)); echo "back end connections for the topic during the run: $(backend_subscribers)") &
probe=$!
gen "http://127.0.0.1:$PROXY_PORT/upstream/src/t{topic}" "$PROXY_PID" | tee "$RUN/proxy.out"
wait "$probe"
curl -s "http://127.0.0.1:$PROXY_PORT/upstreams"
echo
sleep 2
echo "== baseline: the same $CONNS clients directly on the back end"
gen "http://127.0.0.1:$ORIGIN_PORT/events/t{topic}" "$ORIGIN_PID" | tee "$RUN/direct.out"
