#!/usr/bin/env bash
# Configures and builds a sanitizer tree with Debian's clang 14 (docs/testing.md):
#   asan  ./build-asan: ASan+UBSan, plus the libFuzzer targets (fuzz/) and their smoke tests
#   tsan  ./build-tsan: ThreadSanitizer
#   fuzz  ./build-fuzz: the libFuzzer targets with UBSan alone at -O2, for long fuzzing runs
# They leave out bench/ and compile with assertions on (RelWithDebInfo without NDEBUG), asan
# and tsan at -O1: quick to build, readable reports. Extra arguments go to `cmake --build`.
# usage: scripts/build-sanitized.sh asan|tsan|fuzz [cmake --build args...]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
shift || true
case "$kind" in
  asan) dir=build-asan; flags=(-DBATCHD_SANITIZE=address -DBATCHD_FUZZ=ON) ;;
  tsan) dir=build-tsan; flags=(-DBATCHD_SANITIZE=thread -DBATCHD_FUZZ=OFF) ;;
  fuzz) dir=build-fuzz; flags=(-DBATCHD_SANITIZE=undefined -DBATCHD_FUZZ=ON) ;;
  *) echo "usage: $0 asan|tsan|fuzz [cmake --build args...]" >&2; exit 2 ;;
esac
optimize="-O1 -g"
[ "$kind" = fuzz ] && optimize="-O2 -g"
bash scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja --no-warn-unused-cli -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$optimize" -DCMAKE_CXX_COMPILER=clang++-14 \
  -DBATCHD_BENCHMARKS=OFF -DBATCHD_FUZZ_SECONDS="${BATCHD_FUZZ_SECONDS:-30}" "${flags[@]}" \
  >/dev/null
# Two jobs, as in scripts/build.sh: 2-core machines, ~1 GB per Beast translation unit.
cmake --build "$dir" -j2 "$@"
