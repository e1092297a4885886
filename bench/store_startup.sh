#!/usr/bin/env bash
# Disk log, start-up and replay: fills a fresh data directory with ~1 GB of history, stops
# the server with SIGTERM, then ROUNDS times: starts it again on that directory and measures
# the time from exec to its "listening" log line, its RSS 1 s later, and how long a client
# resuming with Last-Event-ID from 100,000 events back on one topic takes to receive them all;
# then stops it (SIGTERM). Twice over: with --history-count 200000 --history-bytes 64m (the
# 100,000 events are in the memory window), then with the default history settings (1000
# events a topic: the resume reads the disk log).
#
#   bench/store_startup.sh [BIN]        BIN: the revenprox binary (default: lib.sh's choice)
#   ROUNDS=3 FILL_EVENTS=1000000 FILL_SIZE=1000 FILL_TOPICS=1000 FILL_SECONDS=300
#   REPLAY_EVENTS=100000 REPLAY_SIZE=100 REPLAY_TIMEOUT=120 STARTUP_LIMIT=120
#
# The fill: `revenprox serve --data-dir DIR --fsync none --data-max-bytes 0
# --history-count 200000 --history-bytes 64m`, revenprox-bench pub with 16 publishers (16
# requests in flight each) over FILL_TOPICS topics h0.. of FILL_SIZE-byte events, FILL_EVENTS
# publishes or FILL_SECONDS, whichever ends first; then one publish to topic `replay` (its id
# is the Last-Event-ID) and REPLAY_EVENTS publishes of REPLAY_SIZE bytes to it (1 publisher).
# The restarts: the same flags without --fsync (the default, interval), --log-level info;
# the second set without the --history-* flags.
# The start-up time is the "listening" line's own timestamp minus the wall clock just before
# the exec (both CLOCK_REALTIME, ms). The data files are in the page cache (just written).
# Raw lines: $BENCH_RESULTS/store-startup.jsonl. Loopback only; every process started here is
# stopped when it ends.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
if [ $# -gt 1 ]; then
    echo "usage: bench/store_startup.sh [REVENPROX_BIN]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    REVENPROX_BIN="$(realpath "$1")"
    export REVENPROX_BIN
fi
ROUNDS="${ROUNDS:-3}"
FILL_EVENTS="${FILL_EVENTS:-1000000}"
FILL_SIZE="${FILL_SIZE:-1000}"
FILL_TOPICS="${FILL_TOPICS:-1000}"
FILL_SECONDS="${FILL_SECONDS:-300}"
REPLAY_EVENTS="${REPLAY_EVENTS:-100000}"
REPLAY_SIZE="${REPLAY_SIZE:-100}"
REPLAY_TIMEOUT="${REPLAY_TIMEOUT:-120}"
STARTUP_LIMIT="${STARTUP_LIMIT:-120}"
OUT="$BENCH_RESULTS/store-startup.jsonl"

# start_store_server LOG [EXTRA FLAGS...]: starts RevenProx on $DATA, waits for its
# "listening" line; sets SERVER_PID, SERVER_PORT, STARTUP_S (exec to "listening"), EPOCH.
start_store_server() {
    local logf="$1" port bin t0 line
    shift
    bin="$(revenprox_bin)"
    [ -x "$bin" ] || die "no RevenProx binary at $bin (build it, or pass it)"
    free_port port
    t0="$EPOCHREALTIME"
    # RevenProx refuses unknown REVENPROX_* environment variables (lib.sh's two)
    env -u REVENPROX_BIN -u REVENPROX_BENCH "$bin" serve --listen "127.0.0.1:$port" \
        --workers "${RP_BENCH_WORKERS:-2}" --data-dir "$DATA" --data-max-bytes 0 \
        "${HISTORY_FLAGS[@]}" --log-level info "$@" >"$logf" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    SERVER_PORT="$port"
    local end=$((SECONDS + STARTUP_LIMIT))
    until grep -q 'msg="listening"' "$logf" 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; then
            tail -n 20 "$logf" >&2
            die "revenprox did not start (log: $logf)"
        fi
        sleep 0.005
    done
    line="$(grep -m1 'msg="listening"' "$logf")"
    EPOCH="$(sed -n 's/.* epoch=\([0-9a-f]*\).*/\1/p' <<<"$line")"
    STARTUP_S="$(python3 - "$t0" "$line" "$EPOCHREALTIME" <<'EOF'
import datetime, re, sys
t0, line, polled = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
m = re.search(r"ts=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z", line)
if m:
    ts = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp()
    print("%.3f" % (ts - t0))
else:  # no timestamp in the line: when the poll saw it
    print("%.3f" % (polled - t0))
EOF
)"
}

# stop_store_server: SIGTERM, up to 120 s; sets STOP_S
stop_store_server() {
    local t0="$EPOCHREALTIME"
    stop_pid "$SERVER_PID" 120
    _untrack "$SERVER_PID"
    STOP_S="$(python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$EPOCHREALTIME")"
    SERVER_PID=""
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

HISTORY_FLAGS=(--history-count 200000 --history-bytes 64m)
bench_init
: >"$OUT"
DATA="$RUN_DIR/data"
FILL_OUT="$RUN_DIR/fill.jsonl"

# ---------------------------------------------------------------- the fill
start_store_server "$RUN_DIR/fill.log" --fsync none
EMPTY_STARTUP_S="$STARTUP_S"
FILL_EPOCH="$EPOCH"
log "store-startup: filling $DATA: $FILL_EVENTS x $FILL_SIZE B over $FILL_TOPICS topics (at most ${FILL_SECONDS}s); empty start-up ${EMPTY_STARTUP_S}s, epoch $EPOCH"
run_gen "$FILL_OUT" '{"phase":"fill"}' $((FILL_SECONDS + 60)) pub \
    --pub-url "http://127.0.0.1:$SERVER_PORT/publish/h{topic}" --pub-format raw \
    --topics "$FILL_TOPICS" --publishers 16 --pub-rate 0 --pipeline 16 \
    --duration "$FILL_SECONDS" --count "$FILL_EVENTS" --size "$FILL_SIZE" \
    --server-pid "$SERVER_PID" --timeout $((FILL_SECONDS + 50)) --json
FROM_ID="$(curl -sS --max-time 10 -X POST --data-binary 'replay starts after this' \
    "http://127.0.0.1:$SERVER_PORT/publish/replay" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
log "store-startup: $REPLAY_EVENTS events to topic replay after $FROM_ID"
run_gen "$FILL_OUT" '{"phase":"replay-topic"}' 660 pub \
    --pub-url "http://127.0.0.1:$SERVER_PORT/publish/replay" --pub-format raw \
    --topics 1 --publishers 1 --pub-rate 0 --pipeline 16 \
    --duration 600 --count "$REPLAY_EVENTS" --size "$REPLAY_SIZE" --timeout 610 --json
FILL_RSS_KB="$(rss_kb "$SERVER_PID")"
# the same replay from the server that wrote it, before any restart: the reference
PRE_REPLAY="$(python3 "$BENCH_DIR/sse_replay.py" --url "http://127.0.0.1:$SERVER_PORT/events/replay" \
    --last-event-id "$FROM_ID" --count "$REPLAY_EVENTS" --timeout "$REPLAY_TIMEOUT")" || true
[ -n "$PRE_REPLAY" ] || PRE_REPLAY='{}'
log "store-startup: replay before the stop: $PRE_REPLAY"
stop_store_server
DATA_BYTES="$(du -sb "$DATA" 2>/dev/null | cut -f1 || echo 0)"
log "store-startup: data directory $DATA_BYTES bytes; the fill's server stopped in ${STOP_S}s (RSS before: $FILL_RSS_KB kB)"
python3 - "$FILL_OUT" "$OUT" "$EMPTY_STARTUP_S" "$DATA_BYTES" "$STOP_S" "$FILL_RSS_KB" "$PRE_REPLAY" <<'EOF'
import json, sys
fill, out, empty_s, data_bytes, stop_s, rss, pre = sys.argv[1:8]
recs = {}
for l in open(fill):
    r = json.loads(l)
    recs[r["phase"]] = r
f, t = recs.get("fill", {}), recs.get("replay-topic", {})
rec = {"phase": "fill", "empty_startup_s": float(empty_s), "data_dir_bytes": int(data_bytes),
       "stop_s": float(stop_s), "rss_kb_before_stop": int(rss or 0),
       "fill_acked": f.get("acked"), "fill_failed": f.get("pub_failed"), "fill_rate": f.get("pub_rate"),
       "size": f.get("size"), "topics": f.get("topics"),
       "replay_topic_acked": t.get("acked"), "replay_topic_failed": t.get("pub_failed")}
for k, v in json.loads(pre).items():
    rec["pre_replay_" + k] = v
with open(out, "a") as o:
    o.write(json.dumps(rec, sort_keys=True) + "\n")
EOF

# ---------------------------------------------------------------- the restarts
# restarts LABEL: ROUNDS restarts with HISTORY_FLAGS, each line tagged "history": LABEL
restarts() {
    local label="$1" r rss replay loadms
    for ((r = 1; r <= ROUNDS; r++)); do
        start_store_server "$RUN_DIR/restart-$label-$r.log"
        log "store-startup: history $label, round $r of $ROUNDS: listening after ${STARTUP_S}s (epoch $EPOCH)"
        sleep 1
        rss="$(rss_kb "$SERVER_PID")"
        replay='{}'
        if [ "$EPOCH" != "$FILL_EPOCH" ]; then
            log "store-startup: a new epoch ($FILL_EPOCH before): the history did not survive the restart; no replay"
        else
            replay="$(python3 "$BENCH_DIR/sse_replay.py" --url "http://127.0.0.1:$SERVER_PORT/events/replay" \
                --last-event-id "$FROM_ID" --count "$REPLAY_EVENTS" --timeout "$REPLAY_TIMEOUT")" || true
            [ -n "$replay" ] || replay='{}'
            log "store-startup: replay: $replay"
        fi
        # what the server logged while starting (recovery), for the record
        grep -v 'component=access' "$RUN_DIR/restart-$label-$r.log" | grep -v RLIMIT_NOFILE |
            head -n 5 | sed 's/^/  server: /' >&2 || true
        loadms="$(sed -n 's/.*msg="history loaded".* ms=\([0-9]*\).*/\1/p' "$RUN_DIR/restart-$label-$r.log" | head -n1)"
        stop_store_server
        python3 - "$OUT" "$r" "$STARTUP_S" "$rss" "$EPOCH" "$FILL_EPOCH" "$replay" "$STOP_S" "$label" "${loadms:-}" <<'EOF'
import json, sys
out, r, s, rss, epoch, fill_epoch, replay, stop_s, label, loadms = sys.argv[1:11]
rp = json.loads(replay)
rec = {"phase": "restart", "history": label, "round": int(r), "startup_s": float(s),
       "rss_kb": int(rss or 0), "same_epoch": epoch == fill_epoch, "stop_s": float(stop_s),
       "history_load_ms": int(loadms) if loadms else None}
for k, v in rp.items():
    rec["replay_" + k] = v
with open(out, "a") as o:
    o.write(json.dumps(rec, sort_keys=True) + "\n")
EOF
    done
}
restarts 200000
HISTORY_FLAGS=()
restarts default

python3 - "$OUT" "$REPLAY_EVENTS" <<'EOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = int(sys.argv[2])
fill = [r for r in recs if r["phase"] == "fill"][0]
rs = [r for r in recs if r["phase"] == "restart"]
def mmm(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))
print()
print("fill: %s acked (%s failed) of %s B over %s topics at %s/s; 1 + %s replay-topic events; "
      "data directory %.2f GB; empty start-up %.3f s; SIGTERM to exit %.1f s" % (
      fill["fill_acked"], fill["fill_failed"], fill["size"], fill["topics"], fill["fill_rate"],
      fill["replay_topic_acked"], fill["data_dir_bytes"] / 1e9, fill["empty_startup_s"], fill["stop_s"]))
if fill.get("pre_replay_events"):
    print("replay before the stop (same server, in memory): %s events in %.3f s, %.0f/s" % (
          fill["pre_replay_events"], fill["pre_replay_seconds"], fill["pre_replay_events_per_s"]))
print()
print("| history settings | | runs | median (min-max) |")
print("|---|---|---|---|")
for label, name in (("200000", "--history-count 200000 --history-bytes 64m"), ("default", "default (1000 events, 16m a topic)")):
    rl = [r for r in rs if r.get("history") == label]
    if not rl:
        continue
    ok = [r for r in rl if (r.get("replay_events") or 0) >= want]
    print("| %s | start-up, exec to \"listening\" (s) | %d | %s |" % (name, len(rl), mmm([r["startup_s"] for r in rl], "%.3f")))
    print("| | of which \"history loaded\" (s) | %d | %s |" % (len(rl), mmm([r["history_load_ms"] / 1000 for r in rl if r.get("history_load_ms") is not None], "%.3f")))
    print("| | RSS 1 s after start-up (MiB) | %d | %s |" % (len(rl), mmm([r["rss_kb"] / 1024 for r in rl], "%.0f")))
    print("| | replay: events received of %d | %d | %s |" % (want, len(rl), mmm([r.get("replay_events") for r in rl], "%.0f")))
    print("| | replay of %d events (s) | %d | %s |" % (want, len(ok), mmm([r["replay_seconds"] for r in ok], "%.3f")))
    print("| | replay: events/s | %d | %s |" % (len(ok), mmm([r["replay_events_per_s"] for r in ok], "%.0f")))
    print("| | replay: first event after (ms) | %d | %s |" % (len(ok), mmm([r["replay_first_event_s"] * 1000 for r in ok if r.get("replay_first_event_s") is not None], "%.1f")))
print()
for label in ("200000", "default"):
    xs = [r["startup_s"] for r in rs if r.get("history") == label]
    if xs:
        med = statistics.median(xs)
        print("start-up median (history %s) %.3f s: target < 2 s %s" % (label, med, "met" if med < 2 else "NOT met"))
if not all(r["same_epoch"] for r in rs):
    print("note: the history did not survive a restart (new epoch): this build keeps it in memory only")
else:
    ok = [r for r in rs if (r.get("replay_events") or 0) >= want]
    if len(ok) < len(rs):
        print("note: %d of %d replays did not receive all %d events" % (len(rs) - len(ok), len(rs), want))
EOF
