#!/usr/bin/env bash
# The whole benchmark: installs the peers (nginx + nchan, Pushpin), builds RevenProx and the
# load generator in release mode (build-release/), runs every scenario against RevenProx,
# nchan and Pushpin, and prints the table. Results: bench/results/<scenario>-<server>.jsonl.
#
#   bench/run-all.sh                      every scenario, REPEATS=3
#   REPEATS=1 bench/run-all.sh B-fanout   chosen scenarios
#   SERVERS="revenprox nchan" bench/run-all.sh
#
# Loopback only; every server and generator it starts is stopped when it ends. About
# 5 scenarios x 3 servers x REPEATS runs of 10-40 s each: ~15 minutes with REPEATS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(A-idle B-fanout C-wide D5-latency P-publish)

scripts/install-deps --with-tests
bench/install-peers

if [ ! -f build-release/build.ninja ]; then
    meson setup build-release --buildtype=release
fi
# only the server and the generator (not the tests and fuzz harnesses)
ninja -C build-release src/cli/revenprox
export REVENPROX_BIN="${REVENPROX_BIN:-$ROOT/build-release/src/cli/revenprox}"
if [ -z "${REVENPROX_BENCH:-}" ]; then
    gen_target="$(ninja -C build-release -t targets all 2>/dev/null |
        sed -n 's/^\(bench\/[^:]*revenprox-bench\): .*/\1/p' | head -n1)"
    if [ -n "$gen_target" ] && ninja -C build-release "$gen_target"; then
        export REVENPROX_BENCH="$ROOT/build-release/$gen_target"
    else
        # shellcheck source=bench/lib.sh
        . bench/lib.sh
        find_generator
        echo "run-all: no release build of revenprox-bench; using $GEN" >&2
        export REVENPROX_BENCH="$GEN"
    fi
fi

# Copies of the binaries for the whole run: a rebuild of build-release/ meanwhile (another
# shell, another developer) must not change the server between scenarios.
BIN_DIR="$(mktemp -d /tmp/rp-bench-bin.XXXXXX)"
GEN_SRC="$REVENPROX_BENCH"
trap 'rm -rf "$BIN_DIR"' EXIT
cp -p "$REVENPROX_BIN" "$BIN_DIR/revenprox"
export REVENPROX_BIN="$BIN_DIR/revenprox"
cp -p "$REVENPROX_BENCH" "$BIN_DIR/revenprox-bench"
export REVENPROX_BENCH="$BIN_DIR/revenprox-bench"

export BENCH_RESULTS="${BENCH_RESULTS:-$ROOT/bench/results}"
mkdir -p "$BENCH_RESULTS"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
    echo "kernel: $(uname -r)"
    echo "revenprox: $("$REVENPROX_BIN" version 2>&1 | head -n1) ($(git describe --always --dirty 2>/dev/null || echo "?"), built $(date -u -r "$BIN_DIR/revenprox" +%Y-%m-%dT%H:%M:%SZ))"
    echo "nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'), libnginx-mod-nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan)"
    echo "pushpin: $(dpkg-query -W -f='${Version}' pushpin), condure $(dpkg-query -W -f='${Version}' condure), zurl $(dpkg-query -W -f='${Version}' zurl)"
    echo "generator: ${GEN_SRC#"$ROOT"/} (built $(date -u -r "$BIN_DIR/revenprox-bench" +%Y-%m-%dT%H:%M:%SZ))"
    echo "repeats: ${REPEATS:-3}"
} >"$BENCH_RESULTS/machine.txt"
cat "$BENCH_RESULTS/machine.txt"

failed=()
for s in "${SCENARIOS[@]}"; do
    script="bench/scenarios/$s.sh"
    [ -x "$script" ] || { echo "run-all: no scenario $s" >&2; failed+=("$s"); continue; }
    echo "=== $s"
    # a bound on the whole scenario on top of each run's own
    if ! timeout --kill-after=30 1800 "$script"; then
        failed+=("$s")
    fi
done

echo
echo "=== all results (median (min-max) over REPEATS=${REPEATS:-3} runs; ${BENCH_RESULTS#"$ROOT"/})"
python3 bench/summarize.py --all || true
if [ ${#failed[@]} -gt 0 ]; then
    echo "run-all: failed: ${failed[*]}" >&2
    exit 1
fi
