#!/usr/bin/env bash
# Quick start 2/2: install what is missing, build everything, and run the whole test suite
# (unit, integration, slow) under ctest. Arguments are passed to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 "$@"
