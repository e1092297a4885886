# shellcheck shell=bash
# shellcheck disable=SC2034  # SUB_URL, PUB_URL, PUB_FORMAT, SERVER_PORT are for the scenarios
# Shared helpers of the benchmark scripts (bench/scenarios/*.sh, bench/run-all.sh): start and
# stop private instances of RevenProx, nginx + nchan and Pushpin on loopback, find the load
# generator, run it bounded in time and collect its JSON lines. Source it; don't run it.
#
# After `bench_init`, every process started here lives under $RUN_DIR (/tmp/rp-bench-<pid>/)
# and is stopped on exit, on Ctrl-C and on TERM, by PID: nothing else is touched.
#
#   bench_init                       run directory, cleanup trap, generator lookup
#   start_server NAME                NAME = revenprox | nchan | pushpin; sets SERVER_PID (the
#                                    main process: RevenProx itself, nginx's master, Pushpin's
#                                    runner), SUB_URL, PUB_URL, PUB_FORMAT, SERVER_PORT
#   stop_server                      stops the server started last (and its helpers)
#   run_gen OUT.jsonl TAGS ARGS...   runs revenprox-bench ARGS, appends its JSON lines to OUT
#                                    with TAGS (a JSON object's fields) merged in
#
# Environment: REVENPROX_BIN (default build-release/src/cli/revenprox, else
# build/src/cli/revenprox), REVENPROX_BENCH (the generator), BENCH_PORT (first port tried,
# default 18080), REPEATS (3), SERVERS ("revenprox nchan pushpin"), BENCH_RESULTS
# (bench/results), KEEP_RUN_DIR=1 to keep logs after exit, PUSHPIN_ORIGIN (nginx | python:
# what answers Pushpin's requests for new subscribers).

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_DIR/results}"
REPEATS="${REPEATS:-3}"
SERVERS="${SERVERS:-revenprox nchan pushpin}"
BENCH_PORT="${BENCH_PORT:-18080}"

_BENCH_PIDS=()      # every top-level process started here, stopped on exit
SERVER_NAME=""
SERVER_PID=""
SERVER_PORT=""
_SERVER_HELPERS=()  # helpers of the current server (Pushpin's GRIP origin)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_init() {
    RUN_DIR="${RUN_DIR:-/tmp/rp-bench-$$}"
    _RUN_DIR_MADE=""
    [ -e "$RUN_DIR" ] || _RUN_DIR_MADE=1  # removed at exit only if made here
    mkdir -p "$RUN_DIR" "$BENCH_RESULTS"
    chmod 755 "$RUN_DIR"
    trap _bench_cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
    find_generator
}

# ---------------------------------------------------------------- processes and ports

# All descendants of a PID (children first listed after their parent).
_descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        _descendants "$c"
    done
}

# Stops a PID and its descendants: SIGTERM, up to $2 seconds (default 5), then SIGKILL.
stop_pid() {
    local pid="$1" grace="${2:-5}" sig="${3:-TERM}" kids i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kids="$(_descendants "$pid")"
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        # a child of this shell that exited stays a zombie until waited for
        if ! ps -o stat= -p "$pid" 2>/dev/null | grep -qv Z; then break; fi
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && ps -o stat= -p "$pid" 2>/dev/null | grep -qv Z; then
        log "pid $pid did not stop in ${grace}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    # components the main process should have stopped with it
    for i in $kids; do
        if kill -0 "$i" 2>/dev/null; then
            kill -TERM "$i" 2>/dev/null || true
            sleep 0.2
            kill -KILL "$i" 2>/dev/null || true
        fi
    done
    return 0
}

_bench_cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${_SERVER_HELPERS[@]}" "${_BENCH_PIDS[@]}"; do
        stop_pid "$p" 3
    done
    _BENCH_PIDS=()
    _SERVER_HELPERS=()
    if [ -n "${_RUN_DIR_MADE:-}" ] && [ -d "$RUN_DIR" ] && [ "${KEEP_RUN_DIR:-0}" != 1 ]; then
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}

_track() { _BENCH_PIDS+=("$1"); }
_untrack() {
    local keep=() p
    for p in "${_BENCH_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    _BENCH_PIDS=("${keep[@]}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port VAR: sets VAR to a port nobody listens on, from $BENCH_PORT up, skipping the
# ports handed out already (no subshell: the next call must see _next_port).
_next_port=""
free_port() {
    local p="${_next_port:-$BENCH_PORT}"
    while port_open "$p" || ss -Htan "sport = :$p" 2>/dev/null | grep -q .; do
        p=$((p + 1))
    done
    _next_port=$((p + 1))
    printf -v "$1" '%s' "$p"
}

# wait_for_port PORT TIMEOUT_S [PID]: until something accepts on 127.0.0.1:PORT; fails if
# PID exits first or the time runs out.
wait_for_port() {
    local port="$1" timeout="${2:-10}" pid="${3:-}" i
    for ((i = 0; i < timeout * 20; i++)); do
        port_open "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------- the servers

revenprox_bin() {
    if [ -n "${REVENPROX_BIN:-}" ]; then
        echo "$REVENPROX_BIN"
    elif [ -x "$ROOT_DIR/build-release/src/cli/revenprox" ]; then
        echo "$ROOT_DIR/build-release/src/cli/revenprox"
    else
        echo "$ROOT_DIR/build/src/cli/revenprox"
    fi
}

start_revenprox() {
    local port bin dir
    bin="$(revenprox_bin)"
    [ -x "$bin" ] || die "no RevenProx binary at $bin (build it, or set REVENPROX_BIN)"
    free_port port
    dir="$RUN_DIR/revenprox-$port"
    mkdir -p "$dir"
    # --history-count 100 matches nchan_message_buffer_length 100. --slow-policy block: a
    # publisher at full speed is held to what the subscribers read, so nothing is dropped and
    # latency stays bounded (nchan lets its backlog grow instead; see docs/benchmarks.md).
    # Its disk log (on by default) goes to a fresh data_dir in the run directory, never to
    # ./data of wherever the script runs.
    # RevenProx refuses unknown REVENPROX_* environment variables, and these two are the
    # scripts', not its settings. RP_BENCH_WORKERS (2, as nchan) and RP_BENCH_FLAGS (extra
    # serve flags, split on spaces) change the command.
    # shellcheck disable=SC2086
    env -u REVENPROX_BIN -u REVENPROX_BENCH "$bin" serve --listen "127.0.0.1:$port" \
        --workers "${RP_BENCH_WORKERS:-2}" --history-count 100 --slow-policy block \
        --data-dir "$dir/data" ${RP_BENCH_FLAGS:-} --log-level warn >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    wait_for_port "$port" 10 "$SERVER_PID" || { cat "$dir/server.log" >&2; die "revenprox did not start"; }
    SERVER_PORT="$port"
    SUB_URL="http://127.0.0.1:$port/events/t{topic}"
    PUB_URL="http://127.0.0.1:$port/publish/t{topic}"
    PUB_FORMAT=raw
    # RP_BENCH_MERCURE=<publisher token>: the same scenario through /.well-known/mercure
    # (bench/mercure.sh; the server needs --mercure true and anonymous subscribers).
    if [ -n "${RP_BENCH_MERCURE:-}" ]; then
        SUB_URL="http://127.0.0.1:$port/.well-known/mercure?topic=https%3A%2F%2Fbench.example%2Ft{topic}"
        PUB_URL="http://127.0.0.1:$port/.well-known/mercure?authorization=$RP_BENCH_MERCURE"
        PUB_FORMAT=mercure
    fi
}

start_nchan() {
    local port dir
    command -v nginx >/dev/null || die "nginx is not installed (bench/install-peers)"
    free_port port
    dir="$RUN_DIR/nchan-$port"
    mkdir -p "$dir"
    sed -e "s#@RUNDIR@#$dir#g" -e "s#@PORT@#$port#g" "$BENCH_DIR/peers/nchan/nginx.conf" >"$dir/nginx.conf"
    # daemon off: the PID is the master's; its children are the two workers
    nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    wait_for_port "$port" 10 "$SERVER_PID" || {
        cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null
        die "nginx did not start"
    }
    SERVER_PORT="$port"
    SUB_URL="http://127.0.0.1:$port/sub/t{topic}"
    PUB_URL="http://127.0.0.1:$port/pub/t{topic}"
    PUB_FORMAT=raw
}

start_pushpin() {
    local port pport bport dir bpid
    command -v pushpin >/dev/null || die "pushpin is not installed (bench/install-peers)"
    free_port port
    free_port pport
    free_port bport
    dir="$RUN_DIR/pushpin-$port"
    mkdir -p "$dir"
    sed -e "s#@RUNDIR@#$dir#g" -e "s#@HTTP_PORT@#$port#g" -e "s#@PUBLISH_PORT@#$pport#g" \
        "$BENCH_DIR/peers/pushpin/pushpin.conf" >"$dir/pushpin.conf"
    sed -e "s#@BACKEND_PORT@#$bport#g" "$BENCH_DIR/peers/pushpin/routes" >"$dir/routes"
    # the GRIP origin: not part of the measured server (its PID is not SERVER_PID).
    # PUSHPIN_ORIGIN=nginx (default): plain nginx, ~20k requests/s; =python: grip-backend.py,
    # ~1k requests/s on this machine, which then limits Pushpin's connect rate
    if [ "${PUSHPIN_ORIGIN:-nginx}" = python ]; then
        python3 "$BENCH_DIR/peers/pushpin/grip-backend.py" --port "$bport" >"$dir/grip-backend.log" 2>&1 &
    else
        sed -e "s#@RUNDIR@#$dir#g" -e "s#@PORT@#$bport#g" \
            "$BENCH_DIR/peers/pushpin/grip-origin-nginx.conf" >"$dir/origin-nginx.conf"
        nginx -p "$dir" -c "$dir/origin-nginx.conf" >"$dir/origin-stdout.log" 2>&1 &
    fi
    bpid=$!
    _SERVER_HELPERS+=("$bpid")
    wait_for_port "$bport" 10 "$bpid" || { cat "$dir"/origin*.log "$dir"/grip-backend.log >&2 2>/dev/null; die "the GRIP origin did not start"; }
    # the runner: its children are condure, zurl, pushpin-proxy and pushpin-handler
    pushpin --config "$dir/pushpin.conf" >"$dir/runner.log" 2>&1 &
    SERVER_PID=$!
    _track "$SERVER_PID"
    if ! wait_for_port "$port" 15 "$SERVER_PID" || ! wait_for_port "$pport" 15 "$SERVER_PID"; then
        cat "$dir"/*.log >&2
        die "pushpin did not start"
    fi
    SERVER_PORT="$port"
    SUB_URL="http://127.0.0.1:$port/sub/t{topic}"
    PUB_URL="http://127.0.0.1:$pport/publish/"
    PUB_FORMAT=pushpin
}

start_server() {
    [ -z "$SERVER_PID" ] || stop_server
    SERVER_NAME="$1"
    case "$1" in
        revenprox) start_revenprox ;;
        nchan) start_nchan ;;
        pushpin) start_pushpin ;;
        *) die "unknown server '$1' (revenprox, nchan, pushpin)" ;;
    esac
    log "$SERVER_NAME up: pid $SERVER_PID, port $SERVER_PORT"
}

stop_server() {
    local p
    [ -n "$SERVER_PID" ] || return 0
    # SIGTERM everywhere: nginx's fast shutdown (QUIT would wait for the event streams
    # to end, which they never do), Pushpin's runner stops its components, RevenProx
    # flushes its streams for up to --shutdown-timeout (5 s)
    stop_pid "$SERVER_PID" 10
    _untrack "$SERVER_PID"
    for p in "${_SERVER_HELPERS[@]}"; do stop_pid "$p" 3; done
    _SERVER_HELPERS=()
    SERVER_PID=""
    SERVER_NAME=""
    # connections of the run just ended linger in TIME_WAIT on the client side; the
    # generator's many source addresses keep them out of the next run's way
    sleep "${BENCH_PAUSE:-1}"
}

# The connect rate for the current server: $CONNECT_RATE (default 5000/s), but Pushpin gets
# $PUSHPIN_CONNECT_RATE (default 500/s): every new subscriber costs it a request to the
# origin through pushpin-proxy and zurl, and above ~800/s on this machine a share of them
# fail with 502 "Error while proxying to origin." or 500 (the handler's "received message
# out of sequence"). The scenarios that measure delivery need all subscribers connected.
# run_pubsub OUT TAGS TOPICS CONNS PUBLISHERS PUB_RATE PIPELINE: the generator's `run`
# (subscribers, then publishers) against the current server, with DURATION, SIZE and SETTLE
# from the scenario. Shared by B, C and D5.
run_pubsub() {
    local out="$1" tags="$2" topics="$3" conns="$4" publishers="$5" pub_rate="$6"
    local pipeline="$7" limit rate
    rate="$(connect_rate)"
    limit=$((conns / rate + DURATION + SETTLE + 90))
    run_gen "$out" "$tags" "$limit" run \
        --sub-url "$SUB_URL" --pub-url "$PUB_URL" --pub-format "$PUB_FORMAT" \
        --topics "$topics" --conns "$conns" --procs 2 --connect-rate "$rate" \
        --source-ips 127.0.0.1-127.0.0.40 \
        --publishers "$publishers" --pub-rate "$pub_rate" --pipeline "$pipeline" \
        --duration "$DURATION" --size "$SIZE" --settle "$SETTLE" \
        --server-pid "$SERVER_PID" --timeout $((limit - 10)) --json
}

connect_rate() {
    if [ "$SERVER_NAME" = pushpin ]; then
        echo "${PUSHPIN_CONNECT_RATE:-500}"
    else
        echo "${CONNECT_RATE:-5000}"
    fi
}

# ---------------------------------------------------------------- the load generator

find_generator() {
    local c
    if [ -n "${REVENPROX_BENCH:-}" ]; then
        GEN="$REVENPROX_BENCH"
    else
        GEN=""
        for c in "$ROOT_DIR"/build-bench/bench/revenprox-bench \
            "$ROOT_DIR"/build-bench/bench/gen/revenprox-bench \
            "$ROOT_DIR"/build-release/bench/revenprox-bench \
            "$ROOT_DIR"/build-release/bench/gen/revenprox-bench \
            "$ROOT_DIR"/build/bench/revenprox-bench \
            "$ROOT_DIR"/build/bench/gen/revenprox-bench; do
            if [ -x "$c" ]; then GEN="$c"; break; fi
        done
        if [ -z "$GEN" ] && [ -d "$ROOT_DIR/build-bench" ]; then
            GEN="$(find "$ROOT_DIR/build-bench" -name revenprox-bench -type f -perm -u+x 2>/dev/null | head -n1)"
        fi
    fi
    if [ -z "$GEN" ] || [ ! -x "$GEN" ]; then
        die "no revenprox-bench found (build it, or set REVENPROX_BENCH)"
    fi
}

# run_gen OUT.jsonl TAGS_JSON MAX_SECONDS ARGS...
# Runs the generator (killed after MAX_SECONDS), appends each JSON object line it prints to
# OUT with TAGS merged in; prints its other output to stderr. Fails if it printed no JSON.
run_gen() {
    local out="$1" tags="$2" limit="$3" raw rc
    shift 3
    raw="$RUN_DIR/gen-$$-$RANDOM.out"
    log "revenprox-bench $*"
    rc=0
    # in the background and waited for, so that a TERM or Ctrl-C to this script is handled
    # at once (bash runs traps only between foreground commands) and the cleanup stops it
    timeout --kill-after=5 "$limit" "$GEN" "$@" >"$raw" 2>"$raw.err" &
    local gpid=$!
    _track "$gpid"
    wait "$gpid" || rc=$?
    _untrack "$gpid"
    [ -s "$raw.err" ] && sed 's/^/  gen: /' "$raw.err" | tail -n 20 >&2
    python3 - "$raw" "$out" "$tags" "$rc" <<'EOF'
import json, sys
raw, out, tags, rc = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
n = 0
with open(raw) as f, open(out, "a") as o:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            if line:
                print("  gen: " + line, file=sys.stderr)
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            print("  gen (not JSON): " + line[:200], file=sys.stderr)
            continue
        if not isinstance(rec, dict):
            continue
        rec.update(tags)
        rec["gen_exit"] = rc
        o.write(json.dumps(rec, sort_keys=True) + "\n")
        n += 1
if n == 0:
    print("  no JSON result from the generator (exit %d)" % rc, file=sys.stderr)
    sys.exit(1)
EOF
}

# Looks up the generator's flags once: gen_has FLAG succeeds if --help mentions it.
gen_has() {
    [ -n "${_GEN_HELP:-}" ] || _GEN_HELP="$("$GEN" --help 2>&1; "$GEN" run --help 2>&1)" || true
    grep -q -- "$1" <<<"$_GEN_HELP"
}

# scenario_loop SCENARIO BODY_FUNCTION: for each server in $SERVERS and each repeat, starts a
# fresh server, calls BODY_FUNCTION OUT TAGS, stops the server; then prints the summary.
scenario_loop() {
    local scenario="$1" body="$2" server r out tags failed=0
    for server in $SERVERS; do
        out="$BENCH_RESULTS/$scenario-$server.jsonl"
        : >"$out"
        for ((r = 1; r <= REPEATS; r++)); do
            log "$scenario: $server, repeat $r of $REPEATS"
            start_server "$server"
            tags="{\"scenario\":\"$scenario\",\"server\":\"$server\",\"repeat\":$r}"
            if ! "$body" "$out" "$tags"; then
                log "$scenario: $server repeat $r failed"
                failed=1
            fi
            _server_errors "$server"
            stop_server
        done
    done
    python3 "$BENCH_DIR/summarize.py" "$scenario"
    return "$failed"
}

# Warnings the peers logged during a run (dropped messages, fd limits), copied to stderr.
_server_errors() {
    local f
    for f in "$RUN_DIR/$1-$SERVER_PORT"/*.log; do
        [ -f "$f" ] || continue
        grep -E '\[(WARN|ERR)|\[(warn|error|crit|alert|emerg)\]|level=(warn|error)' "$f" |
            grep -v 'RLIMIT_NOFILE' |
            sed -E 's/id=[^ ,]+/id=…/g; s/(ts=)?[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9:.]+Z? ?//; s/[0-9]+#[0-9]+: (\*[0-9]+ )?//' |
            sort | uniq -c | sort -rn | head -n 5 |
            sed "s|^|  $(basename "$f"): |" >&2 || true
    done
}
