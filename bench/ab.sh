#!/usr/bin/env bash
# Two builds of RevenProx in the same minutes, alternating run by run, for a change's
# before/after (a change to the hot path quotes it in its commit message):
#
#   bench/ab.sh BEFORE_BIN AFTER_BIN [SCENARIO...]      default: B-fanout C-wide D5-latency P-publish
#   ROUNDS=3 (pairs of runs per scenario)
#
# Each round runs the scenario once against BEFORE and once against AFTER (the order
# alternates between rounds, so neither always runs on a warmer machine). Results:
# $BENCH_RESULTS/ab-before/<scenario>-revenprox.jsonl and ab-after/...; the summary of each.
# Uses the release generator (build-release/bench/revenprox-bench, built if missing).
# Loopback only; every server and generator it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
[ $# -ge 2 ] || { echo "usage: bench/ab.sh BEFORE_BIN AFTER_BIN [SCENARIO...]" >&2; exit 2; }
BEFORE="$(realpath "$1")"
AFTER="$(realpath "$2")"
shift 2
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(B-fanout C-wide D5-latency P-publish)
ROUNDS="${ROUNDS:-3}"

if [ -z "${REVENPROX_BENCH:-}" ]; then
    [ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
    target="$(ninja -C build-release -t targets all 2>/dev/null |
        sed -n 's/^\(bench\/[^:]*revenprox-bench\): .*/\1/p' | head -n1)"
    ninja -C build-release "$target" >/dev/null
    export REVENPROX_BENCH="$ROOT/build-release/$target"
fi
BIN_DIR="$(mktemp -d /tmp/rp-ab.XXXXXX)"
trap 'rm -rf "$BIN_DIR"' EXIT
cp -p "$BEFORE" "$BIN_DIR/before"
cp -p "$AFTER" "$BIN_DIR/after"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results}"
mkdir -p "$RESULTS/ab-before" "$RESULTS/ab-after"
for s in "${SCENARIOS[@]}"; do
    : >"$RESULTS/ab-before/$s-revenprox.jsonl.all"
    : >"$RESULTS/ab-after/$s-revenprox.jsonl.all"
    for ((r = 1; r <= ROUNDS; r++)); do
        order=(before after)
        [ $((r % 2)) -eq 0 ] && order=(after before)
        for which in "${order[@]}"; do
            echo "=== $s, round $r of $ROUNDS: $which"
            REVENPROX_BIN="$BIN_DIR/$which" SERVERS=revenprox REPEATS=1 \
                BENCH_RESULTS="$RESULTS/ab-$which" timeout --kill-after=30 900 \
                "bench/scenarios/$s.sh" >/dev/null
            cat "$RESULTS/ab-$which/$s-revenprox.jsonl" >>"$RESULTS/ab-$which/$s-revenprox.jsonl.all"
        done
    done
    for which in before after; do
        mv "$RESULTS/ab-$which/$s-revenprox.jsonl.all" "$RESULTS/ab-$which/$s-revenprox.jsonl"
    done
done
echo
echo "=== before: $BEFORE"
BENCH_RESULTS="$RESULTS/ab-before" python3 bench/summarize.py "${SCENARIOS[@]}" || true
echo
echo "=== after: $AFTER"
BENCH_RESULTS="$RESULTS/ab-after" python3 bench/summarize.py "${SCENARIOS[@]}" || true
