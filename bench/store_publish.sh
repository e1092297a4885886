#!/usr/bin/env bash
# Disk log, publish: acknowledged publishes/s of RevenProx with the history in memory only
# (--data-dir "") and on disk with --fsync none, interval and always, next to Redis 7
# (Debian's redis-server) appending to streams with `appendonly yes` and `appendfsync
# everysec`, then `always`. The same load for all: 16 keep-alive publishers, one request in
# flight each, over 100 topics, 100-byte events.
#
#   bench/store_publish.sh [BIN]        BIN: the revenprox binary (default: lib.sh's choice)
#   ROUNDS=3 DURATION=10 COUNT=2000000 PUBLISHERS=16 TOPICS=100 SIZE=100
#   MODES="memory none interval always redis-everysec redis-always"
#
# RevenProx: `revenprox serve --listen 127.0.0.1:PORT --workers 2` with `--data-dir ""` or
# `--data-dir <fresh dir under the run directory> --fsync MODE`, driven by revenprox-bench
# pub (POST /publish/t{topic}) for DURATION seconds or COUNT publishes, whichever ends first.
# Redis: `redis-server` on a loopback port with its own directory (`--save ""`: no RDB
# snapshots), driven by `redis-benchmark -c 16 -P 1 -r 100 -n N XADD t:__rand_int__ * d
# <100 bytes>` (one stream per key, 100 keys); redis-benchmark has no time bound, so a first
# run of 20,000 requests measures the rate and N is what that rate does in DURATION seconds
# (at most COUNT). Every mode runs once per round, each on a fresh server and data directory;
# the table gives the median (min-max) of the rounds, the server's CPU and publishes per
# server CPU-second (redis-server's from /proc, RevenProx's from the generator), and the ratios
# interval/memory and always/redis-always. Raw lines: $BENCH_RESULTS/store-publish.jsonl.
# Loopback only; every server and client started here is stopped when it ends.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
if [ $# -gt 1 ]; then
    echo "usage: bench/store_publish.sh [REVENPROX_BIN]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    REVENPROX_BIN="$(realpath "$1")"
    export REVENPROX_BIN
fi
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
COUNT="${COUNT:-2000000}"
PUBLISHERS="${PUBLISHERS:-16}"
TOPICS="${TOPICS:-100}"
SIZE="${SIZE:-100}"
MODES="${MODES:-memory none interval always redis-everysec redis-always}"
OUT="$BENCH_RESULTS/store-publish.jsonl"

# start_revenprox_mode MODE: memory | none | interval | always
start_revenprox_mode() {
    local mode="$1" port bin dir
    bin="$(revenprox_bin)"
    [ -x "$bin" ] || die "no RevenProx binary at $bin (build it, or pass it)"
    free_port port
    dir="$RUN_DIR/revenprox-$mode-$port"
    mkdir -p "$dir"
    local store=(--data-dir "")
    [ "$mode" = memory ] || store=(--data-dir "$dir/data" --fsync "$mode")
    # RevenProx refuses unknown REVENPROX_* environment variables (lib.sh's two)
    # shellcheck disable=SC2086
    env -u REVENPROX_BIN -u REVENPROX_BENCH "$bin" serve --listen "127.0.0.1:$port" \
        --workers "${RP_BENCH_WORKERS:-2}" "${store[@]}" ${RP_BENCH_FLAGS:-} \
        --log-level warn >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    wait_for_port "$port" 30 "$SERVER_PID" || { cat "$dir/server.log" >&2; die "revenprox did not start"; }
    SERVER_PORT="$port"
    SERVER_DIR="$dir"
}

# start_redis FSYNC: everysec | always
start_redis() {
    local fsync="$1" port dir
    command -v redis-server >/dev/null || die "redis-server is not installed (bench/install-peers)"
    command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed (bench/install-peers)"
    free_port port
    dir="$RUN_DIR/redis-$fsync-$port"
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize no \
        --dir "$dir" --appendonly yes --appendfsync "$fsync" --save "" \
        --logfile "$dir/redis.log" >"$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    wait_for_port "$port" 30 "$SERVER_PID" || { cat "$dir"/*.log >&2; die "redis-server did not start"; }
    SERVER_PORT="$port"
    SERVER_DIR="$dir"
}

# redis_bench N: requests/s of one redis-benchmark run of N XADDs (empty on failure)
redis_bench() {
    local n="$1" raw pid rc=0 value
    value="$(printf '%*s' "$SIZE" '' | tr ' ' x)"
    raw="$RUN_DIR/redis-benchmark-$$-$RANDOM.csv"
    log "redis-benchmark -c $PUBLISHERS -n $n -P 1 -r $TOPICS XADD t:__rand_int__ * d <$SIZE bytes>"
    timeout --kill-after=5 $((DURATION * 6 + 60)) redis-benchmark -h 127.0.0.1 -p "$SERVER_PORT" \
        -c "$PUBLISHERS" -n "$n" -P 1 -r "$TOPICS" --csv \
        XADD 't:__rand_int__' '*' d "$value" >"$raw" 2>"$raw.err" &
    pid=$!
    _track "$pid"
    wait "$pid" || rc=$?
    _untrack "$pid"
    if [ "$rc" -ne 0 ]; then
        sed 's/^/  redis-benchmark: /' "$raw.err" | tail -n 5 >&2
        return 0
    fi
    # "test","rps","avg_latency_ms",...: the second field of the second line
    sed -n '2s/^"[^"]*","\([0-9.]*\)".*/\1/p' "$raw"
}

# utime + stime of a process (all its threads), in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The N of each Redis mode, measured in round 1
declare -A REDIS_N=()

run_mode() {
    local mode="$1" round="$2" tags rate n bytes load
    load="$(cut -d' ' -f1 /proc/loadavg)"
    case "$mode" in
        memory | none | interval | always)
            start_revenprox_mode "$mode"
            log "store-publish: revenprox $mode, round $round of $ROUNDS (port $SERVER_PORT)"
            tags="{\"scenario\":\"store-publish\",\"server\":\"revenprox\",\"mode\":\"$mode\",\"round\":$round}"
            if ! run_gen "$OUT" "$tags" $((DURATION + 60)) pub \
                --pub-url "http://127.0.0.1:$SERVER_PORT/publish/t{topic}" --pub-format raw \
                --topics "$TOPICS" --publishers "$PUBLISHERS" --pub-rate 0 --pipeline 1 \
                --duration "$DURATION" --count "$COUNT" --size "$SIZE" \
                --server-pid "$SERVER_PID" --timeout $((DURATION + 50)) --json; then
                stop_server
                return 1
            fi
            bytes=""
            if [ "$mode" != memory ]; then
                bytes="$(du -sb "$SERVER_DIR/data" 2>/dev/null | cut -f1 || true)"
                log "store-publish: data directory after the run: ${bytes:-0} bytes"
            fi
            # on the generator's line: what the disk log holds (0 = nothing written) and the
            # machine's load average when the run started (other work on the 2 cores)
            python3 - "$OUT" "${bytes:-}" "$load" <<'EOF'
import json, sys
path, n, load = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = open(path).read().splitlines()
rec = json.loads(lines[-1])
if n:
    rec["data_dir_bytes"] = int(n)
rec["loadavg_1m"] = load
lines[-1] = json.dumps(rec, sort_keys=True)
open(path, "w").write("\n".join(lines) + "\n")
EOF
            ;;
        redis-everysec | redis-always)
            start_redis "${mode#redis-}"
            log "store-publish: $mode, round $round of $ROUNDS (port $SERVER_PORT)"
            n="${REDIS_N[$mode]:-}"
            if [ -z "$n" ]; then
                rate="$(redis_bench 20000)"
                [ -n "$rate" ] || { log "store-publish: $mode: redis-benchmark failed"; stop_server; return 1; }
                n="$(python3 -c "import sys; print(max(20000, min(int(sys.argv[3]), int(float(sys.argv[1]) * float(sys.argv[2])))))" "$rate" "$DURATION" "$COUNT")"
                REDIS_N[$mode]="$n"
                log "store-publish: $mode: ${rate}/s in a first run; $n requests per run"
                stop_server
                start_redis "${mode#redis-}"
            fi
            # redis-server's CPU time (all its threads) over the measured run, as the
            # generator samples RevenProx's
            local t0 c0 cpu
            t0="$EPOCHREALTIME"
            c0="$(cpu_ticks "$SERVER_PID")"
            rate="$(redis_bench "$n")"
            cpu="$(python3 -c 'import sys, os; t0, c0, c1, t1 = map(float, sys.argv[1:5]); print("%.1f" % (100 * (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)))' \
                "$t0" "$c0" "$(cpu_ticks "$SERVER_PID")" "$EPOCHREALTIME")"
            [ -n "$rate" ] || { log "store-publish: $mode: redis-benchmark failed"; stop_server; return 1; }
            bytes="$(du -sb "$SERVER_DIR/appendonlydir" 2>/dev/null | cut -f1 || true)"
            printf '{"scenario":"store-publish","server":"redis","mode":"%s","round":%s,"pub_rate":%s,"acked":%s,"publishers":%s,"topics":%s,"size":%s,"data_dir_bytes":%s,"loadavg_1m":%s,"server_cpu_pct":%s}\n' \
                "$mode" "$round" "$rate" "$n" "$PUBLISHERS" "$TOPICS" "$SIZE" "${bytes:-0}" "$load" "$cpu" >>"$OUT"
            log "store-publish: $mode: $rate requests/s"
            ;;
        *) die "unknown mode '$mode'" ;;
    esac
    stop_server
}

bench_init
: >"$OUT"
failed=0
read -r -a modes <<<"$MODES"
for ((r = 1; r <= ROUNDS; r++)); do
    # each round starts one mode further on, so no mode always runs first (or right after
    # another's fsyncs)
    for ((i = 0; i < ${#modes[@]}; i++)); do
        run_mode "${modes[$(((i + r - 1) % ${#modes[@]}))]}" "$r" || failed=1
    done
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
order = ["memory", "none", "interval", "always", "redis-everysec", "redis-always"]
by = {}
for r in recs:
    by.setdefault(r["mode"], []).append(r)
med = {}
print()
print("| mode | runs | publishes/s: median (min-max) | server CPU % | publishes per server CPU-s | failed | disk bytes after a run | load avg at start |")
print("|---|---|---|---|---|---|---|---|")
eff = {}
for m in order + sorted(set(by) - set(order)):
    rs = by.get(m)
    if not rs:
        continue
    rates = [r["pub_rate"] for r in rs if r.get("pub_rate")]
    if not rates:
        continue
    med[m] = statistics.median(rates)
    failed = sum(int(r.get("pub_failed") or 0) + int(r.get("pub_unacked") or 0) for r in rs)
    disk = statistics.median([r.get("data_dir_bytes", 0) or 0 for r in rs]) if m != "memory" else None
    name = m if m.startswith("redis") else "revenprox " + m
    loads = [r.get("loadavg_1m") for r in rs if r.get("loadavg_1m") is not None]
    cpu = [r["server_cpu_pct"] for r in rs if r.get("server_cpu_pct") is not None]
    # per run, so that a run slowed by other work on the machine counts as itself
    per = [r["pub_rate"] / (r["server_cpu_pct"] / 100) for r in rs
           if r.get("pub_rate") and r.get("server_cpu_pct")]
    if per:
        eff[m] = statistics.median(per)
    print("| %s | %d | %.0f (%.0f-%.0f) | %s | %s | %d | %s | %s |" % (
        name, len(rates), med[m], min(rates), max(rates),
        "%.0f" % statistics.median(cpu) if cpu else "-",
        "%.0f (%.0f-%.0f)" % (eff[m], min(per), max(per)) if per else "-", failed,
        "-" if disk is None else "%.0f" % disk,
        "-" if not loads else "%.1f-%.1f" % (min(loads), max(loads))))
print()
def ratio(a, b, target=None):
    if a in med and b in med and med[b] > 0:
        v = med[a] / med[b]
        t = "" if target is None else " (target >= %.2f: %s)" % (target, "met" if v >= target else "NOT met")
        print("%s / %s = %.3f%s" % (a, b, v, t))
ratio("interval", "memory", 0.90)
ratio("always", "redis-always", 1.0)
ratio("none", "memory")
ratio("always", "memory")
ratio("redis-everysec", "redis-always")
print("per server CPU-second (less moved by other work on the machine than the rates):")
for a, b in (("interval", "memory"), ("none", "memory"), ("always", "memory"), ("always", "redis-always"), ("interval", "redis-everysec")):
    if a in eff and b in eff and eff[b] > 0:
        print("  %s / %s = %.3f" % (a, b, eff[a] / eff[b]))
for m in ("none", "interval", "always"):
    rs = by.get(m, [])
    if rs and all((r.get("data_dir_bytes") or 0) == 0 for r in rs):
        print("note: revenprox %s wrote nothing to its data directory: this build keeps history in memory only" % m)
EOF
exit "$failed"
