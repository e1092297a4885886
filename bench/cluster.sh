#!/usr/bin/env bash
# The Redis cluster (cluster = redis, docs/cluster.md) on one machine: a real redis-server and
# several RevenProx nodes on loopback, the load generator spreading its subscribers over the
# nodes (--sub-url once per node) and summing the servers' RSS and CPU (--server-pid once per
# process, Redis included where it works). Each measurement runs next to one node without a
# cluster in the same run: "plain" (the default disk log) and, for the CPU comparison, "memory"
# (history in memory only, as a cluster node keeps it: Redis is the cluster's log):
#   capacity  NODES nodes holding CAP_CONNS idle streams each (4 x 19,000; a process may open
#             at most 20,000 files here): server RSS per connection, against one node with
#             CAP_CONNS streams
#   scale     publishes at PUB_RATE/s to node 1, SCALE_CONNS subscribers of one topic spread
#             over 1, 2 and 3 nodes: delivered events/s, p99, and CPU per delivered event of
#             the nodes plus Redis, against the memory and plain nodes
#   d5        10,000 subscribers of one topic spread over 3 nodes, 5 publishes/s: latency
#   bench/cluster.sh [capacity] [scale] [d5]        (all three without arguments)
# ENGINE=nng runs the same on an NNG mesh (cluster = nng: no Redis; each node keeps its own
# memory log and forwards its publishes to the peers whose readers want them).
# Environment: ENGINE (redis), NODES (4), CAP_CONNS (19000), SCALE_CONNS (4000), PUB_RATE (100),
# DURATION (10), SIZE (100), WORKERS (1 per node), D5_CONNS (10000), REPEATS (3: scale and
# d5 alternate the one-node and cluster runs and print medians).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${REVENPROX_BIN:-}" ]; then # the release build, brought up to date
    [ -f "$ROOT/build-release/build.ninja" ] ||
        meson setup "$ROOT/build-release" --buildtype=release >/dev/null
    ninja -C "$ROOT/build-release" src/cli/revenprox bench/revenprox-bench >"/tmp/rp-cluster-bench-build.log" ||
        { cat /tmp/rp-cluster-bench-build.log >&2; exit 1; }
    REVENPROX_BIN="$ROOT/build-release/src/cli/revenprox"
fi
GEN="${REVENPROX_BENCH:-$(dirname "$(dirname "$(dirname "$REVENPROX_BIN")")")/bench/revenprox-bench}"
NODES="${NODES:-4}"
CAP_CONNS="${CAP_CONNS:-19000}"
SCALE_CONNS="${SCALE_CONNS:-4000}"
PUB_RATE="${PUB_RATE:-100}"
DURATION="${DURATION:-10}"
SIZE="${SIZE:-100}"
WORKERS="${WORKERS:-1}"
D5_CONNS="${D5_CONNS:-10000}"
REPEATS="${REPEATS:-3}"
BASE_PORT="${BASE_PORT:-18600}"
REDIS_PORT=$((BASE_PORT + 99))
ENGINE="${ENGINE:-redis}"
MESH_PORT=$((BASE_PORT + 50)) # node i listens for its peers on MESH_PORT + i
RUN="$(mktemp -d /tmp/rp-cluster-bench.XXXXXX)"
OUT="$RUN/results.jsonl"
PIDS=()
REDIS_PID=""

for tool in "$REVENPROX_BIN" "$GEN"; do
    [ -x "$tool" ] || { echo "missing $tool: build it first" >&2; exit 1; }
done
[ "$ENGINE" != redis ] || command -v redis-server >/dev/null || {
    echo "redis-server is missing: scripts/install-deps --with-tests" >&2
    exit 1
}

stop_all() {
    local p
    for p in "${PIDS[@]}" $REDIS_PID; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}" $REDIS_PID; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    REDIS_PID=""
}
trap 'stop_all; rm -rf "$RUN"' EXIT

wait_listening() { # PORT NAME
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$2 did not become ready:" >&2
    cat "$RUN/$2.log" >&2
    exit 1
}

start_redis() { # a fresh, empty log each time
    rm -rf "$RUN/redis"
    mkdir -p "$RUN/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$RUN/redis" >"$RUN/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis-server did not start" >&2
    exit 1
}

start_node() { # INDEX [ARGS...]: node INDEX listens on BASE_PORT + INDEX
    local i="$1"
    shift
    rm -rf "$RUN/node$i"
    "$REVENPROX_BIN" serve --listen "127.0.0.1:$((BASE_PORT + i))" --data-dir "$RUN/node$i" \
        --workers "$WORKERS" --log-level warn --access-log false --max-connections-per-ip 0 \
        --connect-rate 0 "$@" >"$RUN/node$i.log" 2>&1 &
    PIDS+=($!)
    wait_listening $((BASE_PORT + i)) "node$i"
}

# Starts SETUP: Redis and N cluster nodes, or one node (plain: the default disk log; memory:
# no disk log); sets SUB_ARGS (a --sub-url per node) and PID_ARGS (a --server-pid per
# process, Redis's too).
start_setup() { # SETUP N
    local setup="$1" n="$2" i
    SUB_ARGS=()
    PID_ARGS=()
    case "$setup" in
    plain) start_node 1 ;;
    memory) start_node 1 --data-dir "" ;;
    cluster)
        if [ "$ENGINE" = nng ]; then
            local peers="" j
            for ((j = 1; j <= n; j++)); do
                peers+="${peers:+,}tcp://127.0.0.1:$((MESH_PORT + j))"
            done
            for ((i = 1; i <= n; i++)); do
                start_node "$i" --data-dir "" --cluster nng \
                    --nng-listen-addresses "tcp://127.0.0.1:$((MESH_PORT + i))" \
                    --nng-peer-addresses "$peers"
            done
            sleep 1 # the mesh connects, and the nodes tell each other what they read
        else
            start_redis
            for ((i = 1; i <= n; i++)); do
                start_node "$i" --cluster redis --redis-address "127.0.0.1:$REDIS_PORT"
            done
        fi
        ;;
    esac
    for ((i = 1; i <= n; i++)); do
        SUB_ARGS+=(--sub-url "http://127.0.0.1:$((BASE_PORT + i))/events/t{topic}")
    done
    for p in "${PIDS[@]}" $REDIS_PID; do PID_ARGS+=(--server-pid "$p"); done
}

record() { # TAGS-JSON: the generator's JSON line, with TAGS merged, appended to OUT
    python3 -c '
import json, sys
tags = json.loads(sys.argv[1])
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line); r.update(tags); print(json.dumps(r))
' "$1" >>"$OUT"
}

run_gen() { # TAGS-JSON GENERATOR-ARGS...
    local tags="$1"
    shift
    "$GEN" "$@" --json 2>"$RUN/gen.err" | tee "$RUN/gen.out" | grep -v '^{' >&2 || true
    record "$tags" <"$RUN/gen.out"
}

capacity() {
    local total=$((NODES * CAP_CONNS))
    echo "== capacity: one plain node with $CAP_CONNS idle streams" >&2
    start_setup plain 1
    run_gen '{"m":"capacity","setup":"plain","nodes":1}' sub "${SUB_ARGS[@]}" \
        --conns "$CAP_CONNS" --duration 3 --connect-rate 20000 --timeout 120 "${PID_ARGS[@]}"
    stop_all
    echo "== capacity: $NODES cluster nodes with $CAP_CONNS idle streams each ($total)" >&2
    start_setup cluster "$NODES"
    # 8 source addresses, so no pair of addresses runs short of ephemeral ports.
    run_gen "{\"m\":\"capacity\",\"setup\":\"cluster\",\"nodes\":$NODES}" sub "${SUB_ARGS[@]}" \
        --conns "$total" --procs $(((total + 14999) / 15000)) --duration 3 \
        --connect-rate 20000 --source-ips 127.0.1.1-127.0.1.8 --timeout 300 \
        "${PID_ARGS[@]:0:$((2 * NODES))}"
    [ -z "$REDIS_PID" ] ||
        echo "   (the nodes only; Redis holds no stream: its RSS $(ps -o rss= -p "$REDIS_PID") kB)" >&2
    stop_all
}

pubsub() { # MEASUREMENT SETUP NODES CONNS RATE
    local m="$1" setup="$2" n="$3" conns="$4" rate="$5"
    echo "== $m: $setup, $n node(s), $conns subscribers, $rate publishes/s" >&2
    start_setup "$setup" "$n"
    run_gen "{\"m\":\"$m\",\"setup\":\"$setup\",\"nodes\":$n}" run \
        "${SUB_ARGS[@]}" --pub-url "http://127.0.0.1:$((BASE_PORT + 1))/publish/t{topic}" \
        --conns "$conns" --pub-rate "$rate" --duration "$DURATION" --size "$SIZE" \
        --connect-rate 20000 --timeout 180 "${PID_ARGS[@]}"
    stop_all
}

scale() {
    local r n
    for ((r = 0; r < REPEATS; r++)); do
        pubsub scale memory 1 "$SCALE_CONNS" "$PUB_RATE"
        pubsub scale plain 1 "$SCALE_CONNS" "$PUB_RATE"
        for n in 1 2 3; do pubsub scale cluster "$n" "$SCALE_CONNS" "$PUB_RATE"; done
    done
}

d5() {
    local r
    for ((r = 0; r < REPEATS; r++)); do
        pubsub d5 memory 1 "$D5_CONNS" 5
        pubsub d5 cluster 3 "$D5_CONNS" 5
    done
}

ulimit -n "$(ulimit -Hn)"
[ $# -gt 0 ] || set -- capacity scale d5
for what in "$@"; do
    case "$what" in
    capacity | scale | d5) "$what" ;;
    *) echo "unknown measurement $what (capacity, scale, d5)" >&2; exit 2 ;;
    esac
done

ENGINE="$ENGINE" python3 - "$OUT" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(rs, k):
    return statistics.median(r[k] for r in rs) if rs else float("nan")
print("\nsummary (cluster = %s; medians over the runs of each setup)" % os.environ.get("ENGINE", "redis"))
for r in (r for r in rows if r["m"] == "capacity"):
    print("capacity  %-7s %d node(s): %d of %d streams open, %d bytes of server RSS per stream"
          % (r["setup"], r["nodes"], r["conns_open"], r["conns_target"], r["rss_per_conn_bytes"]))
for m in ("scale", "d5"):
    groups = {}
    for r in (r for r in rows if r["m"] == m):
        groups.setdefault((r["setup"], r["nodes"]), []).append(r)
    base = None
    order = {"memory": 0, "plain": 1, "cluster": 2}
    for (setup, nodes), rs in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        cpu_us = [r["server_cpu_s"] * 1e6 / r["delivered"] for r in rs if r["delivered"]]
        per = statistics.median(cpu_us) if cpu_us else float("nan")
        if setup == "memory":
            base = per
        over = " (%+.0f%% vs memory)" % ((per / base - 1) * 100) if base and setup != "memory" else ""
        print("%-9s %-7s %d node(s): %.0f delivered events/s, ratio %.4f, p50 %.2f ms, p99 %.2f ms,"
              " %.3f us server CPU per delivered event%s  [%d runs]"
              % (m, setup, nodes, med(rs, "events_per_s"), med(rs, "delivery_ratio"),
                 med(rs, "lat_p50_ms"), med(rs, "lat_p99_ms"), per, over, len(rs)))
PY
