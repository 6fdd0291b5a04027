#!/usr/bin/env bash
# Quick start 1/2: install what is missing, build, and run the daemon on 127.0.0.1:8080 with
# its SQLite database in ./var. Arguments are passed to `batchd serve` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --target batchd
exec ./build/daemon/batchd serve "$@"
