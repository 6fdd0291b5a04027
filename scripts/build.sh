#!/usr/bin/env bash
# Configures and builds batchd (Release) into ./build. Extra arguments go to `cmake --build`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Two jobs: the machines we target have 2 cores, and a Beast translation unit needs ~1 GB.
cmake --build build -j2 "$@"
