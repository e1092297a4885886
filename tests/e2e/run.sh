#!/usr/bin/env bash
# Runs the end-to-end tests (real clients against a real revenprox server).
# The server binary is $REVENPROX_BIN (default: ../../build/src/app/revenprox).
# Needs `npm ci` in this directory (scripts/install-deps --with-node does it) and
# Chromium at /usr/bin/chromium. Exits non-zero if any test fails.
set -euo pipefail
if [ -n "${REVENPROX_BIN:-}" ]; then
    REVENPROX_BIN="$(realpath "$REVENPROX_BIN")"
    export REVENPROX_BIN
fi
cd "$(dirname "$0")" && exec node --test --test-reporter=spec *.test.mjs
