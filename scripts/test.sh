#!/usr/bin/env bash
# Quick start 2/2, and CI (.ci/run): install what is missing, then build and test in three build
# trees, one stage after the other (docs/testing.md):
#   release  ./build       GCC, Release: every test (unit, integration, slow, browser, bench smoke)
#   asan     ./build-asan  clang, ASan+UBSan: the unit and integration tests
#   fuzz     ./build-asan  each libFuzzer target for BATCHD_FUZZ_SECONDS (default 30)
#   tsan     ./build-tsan  clang, TSan: the unit and integration tests
# BATCHD_TEST_STAGES picks stages (default "release asan fuzz tsan"). Arguments go to the
# release, asan and tsan ctest runs instead of their own selection, e.g. `scripts/test.sh -L
# unit`; the fuzz stage always runs the fuzz label.
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${BATCHD_TEST_STAGES:-release asan fuzz tsan}"
export BATCHD_FUZZ_SECONDS="${BATCHD_FUZZ_SECONDS:-30}"
start=$SECONDS

# ctest in build tree $1 with the stage's default selection $2 (unless arguments were given).
run_ctest() {
  local dir="$1" selection="$2"
  shift 2
  if [ $# -gt 0 ]; then
    ctest --test-dir "$dir" --output-on-failure -j2 "$@"
  elif [ -n "$selection" ]; then
    ctest --test-dir "$dir" --output-on-failure -j2 -L "$selection"
  else
    ctest --test-dir "$dir" --output-on-failure -j2
  fi
}

# An npm project's dependencies from its committed lock file, installed when the lock changed.
npm_ci_if_changed() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] ||
     [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci --no-audit --no-fund)
  fi
}

for stage in $stages; do
  stage_start=$SECONDS
  echo "test.sh: stage $stage"
  case "$stage" in
    release)
      bash scripts/build.sh
      # The browser tests' one npm dependency (playwright-core; it drives Debian's chromium and
      # never downloads a browser), installed from the committed lock file when it changed.
      npm_ci_if_changed tests/browser
      # zarrita, the independent zarr reader of the sharding tests (tests/zarrita).
      npm_ci_if_changed tests/zarrita
      # The s3:// tests' S3-protocol server (@20minutes/s3rver), likewise from its lock file.
      npm_ci_if_changed tests/s3
      run_ctest build "" "$@"
      ;;
    asan | tsan)
      bash scripts/build-sanitized.sh "$stage"
      npm_ci_if_changed tests/zarrita
      npm_ci_if_changed tests/s3
      (source scripts/sanitizer-env.sh && run_ctest "build-$stage" "unit|integration" "$@")
      ;;
    fuzz)
      bash scripts/build-sanitized.sh asan --target batchd_fuzzers
      (source scripts/sanitizer-env.sh && run_ctest build-asan "fuzz")
      ;;
    *)
      echo "test.sh: unknown stage '$stage' (release, asan, fuzz, tsan)" >&2
      exit 2
      ;;
  esac
  echo "test.sh: stage $stage took $((SECONDS - stage_start)) s, $((SECONDS - start)) s so far"
done
