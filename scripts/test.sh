#!/usr/bin/env bash
# Quick start 2/2: install what is missing, build everything, and run the whole test suite
# (unit, integration, slow, browser) under ctest. Arguments are passed to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The browser test's one npm dependency (playwright-core; it drives Debian's chromium and never
# downloads a browser), installed from the committed lock file when it changed.
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
ctest --test-dir build --output-on-failure -j2 "$@"
