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
#
# With PROXIES=N (N > 1), N proxy processes serve CONNS clients each (a process may open at
# most 20,000 files), all of the same upstream feed; then, in the same run, one proxy with
# CONNS clients as the comparison. TOPOLOGY=direct (default): each proxy reads the back end,
# which must see exactly N connections; TOPOLOGY=tree: the proxies are edges of one mid
# RevenProx that reads the back end, which must see exactly 1 (and the mid N).
#   PROXIES=3 CONNS=19000 PUB_RATE=5 DURATION=10 TOPOLOGY=direct bench/upstream.sh
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
PROXIES="${PROXIES:-1}"
TOPOLOGY="${TOPOLOGY:-direct}"
MID_PORT="${MID_PORT:-18390}"
CONNECT_TIMEOUT="${CONNECT_TIMEOUT:-180}" # the longest connect phase of the PROXIES run
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

subscribers() { # PORT TOPIC: the subscribers a RevenProx counts for TOPIC
    curl -s "http://127.0.0.1:$1/topics/$2" | sed -n 's/.*"subscribers":\([0-9-]*\).*/\1/p'
}
backend_subscribers() { subscribers "$ORIGIN_PORT" t0; }

gen() { # SUB_URL SERVER_PID
    "$GEN" run --sub-url "$1" --pub-url "http://127.0.0.1:$ORIGIN_PORT/publish/t{topic}" \
        --conns "$CONNS" --pub-rate "$PUB_RATE" --duration "$DURATION" --size "$SIZE" \
        --server-pid "$2" --timeout 180 --json
}

ulimit -n "$(ulimit -Hn)"

if [ "$PROXIES" -gt 1 ]; then
    [ "$PROXIES" -le 8 ] || { echo "PROXIES: at most 8 (the generator's --sub-url)" >&2; exit 1; }
    start origin "$ORIGIN_PORT" --workers 1
    src="http://127.0.0.1:$ORIGIN_PORT/events"
    if [ "$TOPOLOGY" = tree ]; then
        start mid "$MID_PORT" --workers 1 --upstreams "src=$src" --upstream-always src/t0
        src="http://127.0.0.1:$MID_PORT/upstream/src"
    elif [ "$TOPOLOGY" != direct ]; then
        echo "TOPOLOGY: direct or tree" >&2
        exit 1
    fi
    args=() ports=()
    for i in $(seq 0 $((PROXIES - 1))); do
        port=$((PROXY_PORT + i))
        start "proxy$i" "$port" --workers "$PROXY_WORKERS" --upstreams "src=$src" \
            --upstream-always src/t0
        ports+=("$port")
        args+=(--sub-url "http://127.0.0.1:$port/upstream/src/t{topic}" --server-pid "${PIDS[-1]}")
    done
    connections() {
        if [ "$TOPOLOGY" = tree ]; then
            echo "back end connections: $(backend_subscribers); mid connections: $(subscribers "$MID_PORT" src/t0)"
        else
            echo "back end connections: $(backend_subscribers)"
        fi
    }
    sleep 1
    echo "== $PROXIES proxy processes ($TOPOLOGY), $CONNS clients each: $((PROXIES * CONNS)) clients"
    echo "before the run: $(connections) (want $([ "$TOPOLOGY" = tree ] && echo "1; $PROXIES" || echo "$PROXIES"))"
    (sleep $((DURATION / 2 + 8)); echo "during the run: $(connections)") &
    probe=$!
    "$GEN" run "${args[@]}" --pub-url "http://127.0.0.1:$ORIGIN_PORT/publish/t{topic}" \
        --conns $((PROXIES * CONNS)) --pub-rate "$PUB_RATE" --duration "$DURATION" \
        --size "$SIZE" --connect-timeout "$CONNECT_TIMEOUT" --timeout 400 --json |
        tee "$RUN/multi.out"
    wait "$probe"
    for port in "${ports[@]}"; do
        echo "proxy :$port upstream: $(curl -s "http://127.0.0.1:$port/upstreams" |
            sed -n 's/.*"state":"\([a-z]*\)".*"clients":\([0-9]*\).*"events_in":\([0-9]*\).*/state=\1 events_in=\3/p')"
    done
    sleep 2
    echo "== comparison in the same run: one proxy process ($TOPOLOGY), $CONNS clients"
    gen "http://127.0.0.1:${ports[0]}/upstream/src/t{topic}" "${PIDS[-PROXIES]}" |
        tee "$RUN/one.out"
    exit 0
fi
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
