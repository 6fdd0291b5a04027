#!/usr/bin/env bash
# Configures and builds a sanitizer tree with Debian's clang 14 (docs/testing.md):
#   asan  ./build-asan: ASan+UBSan, plus the libFuzzer targets (fuzz/) and their smoke tests
#   tsan  ./build-tsan: ThreadSanitizer
# Both leave out bench/ and compile at -O1 with assertions on (RelWithDebInfo without NDEBUG):
# quick to build, readable reports. Extra arguments go to `cmake --build` (e.g. --target).
# usage: scripts/build-sanitized.sh asan|tsan [cmake --build args...]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
shift || true
case "$kind" in
  asan) dir=build-asan; flags=(-DBATCHD_SANITIZE=address -DBATCHD_FUZZ=ON) ;;
  tsan) dir=build-tsan; flags=(-DBATCHD_SANITIZE=thread -DBATCHD_FUZZ=OFF) ;;
  *) echo "usage: $0 asan|tsan [cmake --build args...]" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_COMPILER=clang++-14 \
  -DBATCHD_BENCHMARKS=OFF "${flags[@]}" >/dev/null
# Two jobs, as in scripts/build.sh: 2-core machines, ~1 GB per Beast translation unit.
cmake --build "$dir" -j2 "$@"
