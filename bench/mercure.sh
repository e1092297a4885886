#!/usr/bin/env bash
# The Mercure front end against RevenProx's own API, same binary, same minutes: each
# scenario runs once through /events + /publish and once through /.well-known/mercure
# (anonymous subscribers, a publisher token in the `authorization` query parameter, the
# form symfony/mercure posts), alternating which goes first each round. The target
# (docs/mercure.md): Mercure costs no more than 10 % of delivered events/s.
#
#   bench/mercure.sh [SCENARIO...]        default: B-fanout D5-latency
#   ROUNDS=2 (pairs of runs), and the scenarios' own variables (CONNS, DURATION, ...)
#   REVENPROX_BIN (default build-release/src/cli/revenprox), REVENPROX_BENCH (generator)
# Results: $BENCH_RESULTS/mercure-own/ and mercure-mercure/; a summary of each, then the
# ratio of delivered events/s. Loopback only; everything it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(B-fanout D5-latency)
ROUNDS="${ROUNDS:-2}"
if [ -z "${REVENPROX_BIN:-}" ]; then
    [ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
    ninja -C build-release src/cli/revenprox >/dev/null
    REVENPROX_BIN="$ROOT/build-release/src/cli/revenprox"
fi
if [ -z "${REVENPROX_BENCH:-}" ]; then
    [ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
    ninja -C build-release bench/revenprox-bench >/dev/null
    REVENPROX_BENCH="$ROOT/build-release/bench/revenprox-bench"
fi
export REVENPROX_BIN REVENPROX_BENCH
SECRET="bench-mercure-secret-of-at-least-32-bytes"
# An HS256 publisher token as symfony/mercure signs it: {"mercure":{"publish":["*"]}}.
TOKEN="$(python3 - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys
b = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).rstrip(b"=")
head = b({"alg": "HS256", "typ": "JWT"}) + b"." + b({"mercure": {"publish": ["*"]}})
sig = base64.urlsafe_b64encode(hmac.new(sys.argv[1].encode(), head, hashlib.sha256).digest()).rstrip(b"=")
print((head + b"." + sig).decode())
PY
)"
export RP_BENCH_FLAGS="--mercure true --mercure-anonymous true --mercure-jwt-secret $SECRET ${RP_BENCH_FLAGS:-}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results}"
mkdir -p "$RESULTS/mercure-own" "$RESULTS/mercure-mercure"
for s in "${SCENARIOS[@]}"; do
    : >"$RESULTS/mercure-own/$s-revenprox.jsonl.all"
    : >"$RESULTS/mercure-mercure/$s-revenprox.jsonl.all"
    for ((r = 1; r <= ROUNDS; r++)); do
        order=(own mercure)
        [ $((r % 2)) -eq 0 ] && order=(mercure own)
        for which in "${order[@]}"; do
            echo "=== $s, round $r of $ROUNDS: $which"
            token=""
            [ "$which" = mercure ] && token="$TOKEN"
            RP_BENCH_MERCURE="$token" SERVERS=revenprox REPEATS=1 \
                BENCH_RESULTS="$RESULTS/mercure-$which" timeout --kill-after=30 900 \
                "bench/scenarios/$s.sh" >/dev/null
            cat "$RESULTS/mercure-$which/$s-revenprox.jsonl" >>"$RESULTS/mercure-$which/$s-revenprox.jsonl.all"
        done
    done
    for which in own mercure; do
        mv "$RESULTS/mercure-$which/$s-revenprox.jsonl.all" "$RESULTS/mercure-$which/$s-revenprox.jsonl"
    done
done
for which in own mercure; do
    echo
    echo "=== through the $which API"
    BENCH_RESULTS="$RESULTS/mercure-$which" python3 bench/summarize.py "${SCENARIOS[@]}" || true
done
echo
python3 - "$RESULTS" "${SCENARIOS[@]}" <<'PY'
import json, statistics, sys
res, scenarios = sys.argv[1], sys.argv[2:]
def find(o, key):
    if isinstance(o, dict):
        if key in o:
            return o[key]
        for v in o.values():
            r = find(v, key)
            if r is not None:
                return r
    return None
def rate(which, s):
    rows = [json.loads(l) for l in open(f"{res}/mercure-{which}/{s}-revenprox.jsonl") if l.strip()]
    vals = [find(r, "events_per_s") or 0 for r in rows]
    return statistics.median(vals) if vals else 0
for s in scenarios:
    own, mer = rate("own", s), rate("mercure", s)
    ratio = mer / own if own else float("nan")
    print(f"{s}: delivered events/s own {own:,.0f}, mercure {mer:,.0f} ({ratio:.1%} of own)")
PY
