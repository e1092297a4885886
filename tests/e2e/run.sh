#!/usr/bin/env bash
# Runs the end-to-end tests: real clients (npm eventsource, headless Chromium) against a
# real revenprox server, all on 127.0.0.0/8.
#   REVENPROX_BIN  server binary (default: ../../build/src/cli/revenprox, relative to here)
#   CHROMIUM_PATH  browser (default: /usr/bin/chromium, from scripts/install-deps)
# Exits non-zero if any test fails.
set -euo pipefail
if [ -n "${REVENPROX_BIN:-}" ]; then
    REVENPROX_BIN="$(realpath "$REVENPROX_BIN")"
    export REVENPROX_BIN
fi
cd "$(dirname "$0")"
if [ ! -d node_modules/eventsource ] || [ ! -d node_modules/playwright-core ]; then
    # Same as scripts/install-deps --with-tests: install exactly what package-lock.json pins.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-reporter=spec *.test.mjs
