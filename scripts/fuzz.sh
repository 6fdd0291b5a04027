#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build-sanitized.sh) and runs each for SECONDS (default
# 60), then prints executions per target. New corpus inputs stay in TREE/fuzz/corpus/NAME;
# crashes are saved in TREE/fuzz/artifacts/ and make the script fail. See docs/testing.md for
# reproducing a crash and keeping it as a seed.
#
# usage: scripts/fuzz.sh [SECONDS] [NAME...]     (NAME: e.g. batch_spec_fuzzer; default all)
# env:   BATCHD_FUZZ_RUNS=N   also stop each target after N executions
#        BATCHD_FUZZ_JOBS=N   run N targets at once (default 1)
#        BATCHD_FUZZ_TREE=asan (default: build-asan, ASan+UBSan, as in CI) or fuzz (build-fuzz:
#                             UBSan alone at -O2, several times faster, for long runs)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
tree="${BATCHD_FUZZ_TREE:-asan}"
bash scripts/build-sanitized.sh "$tree" --target batchd_fuzzers
source scripts/sanitizer-env.sh
manifest="build-$tree/fuzz/fuzzers.txt"
logs="build-$tree/fuzz/logs"
mkdir -p "$logs"

run_one() {  # name binary seeds scratch options...
  local name="$1" binary="$2" seeds="$3" scratch="$4"
  shift 4
  local extra=()
  [ -n "${BATCHD_FUZZ_RUNS:-}" ] && extra+=("-runs=$BATCHD_FUZZ_RUNS")
  if "$binary" -max_total_time="$seconds" "${extra[@]}" "$@" "$scratch" "$seeds" \
      >"$logs/$name.log" 2>&1; then
    echo "ok" >"$logs/$name.result"
  else
    echo "FAILED" >"$logs/$name.result"
  fi
}

selected=("$@")
pids=()
while read -r name binary seeds scratch options; do
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " =~ " $name " ]]; then continue; fi
  mkdir -p "$scratch"
  # shellcheck disable=SC2086  # options are separate words
  run_one "$name" "$binary" "$seeds" "$scratch" $options &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "${BATCHD_FUZZ_JOBS:-1}" ]; do sleep 1; done
done <"$manifest"
for pid in "${pids[@]}"; do wait "$pid" || true; done

status=0
printf '%-26s %14s %10s %8s  %s\n' target executions exec/s corpus result
while read -r name binary seeds scratch options; do
  [ -f "$logs/$name.result" ] || continue
  log="$logs/$name.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$scratch" -type f | wc -l)
  result=$(cat "$logs/$name.result")
  [ "$result" = ok ] || status=1
  printf '%-26s %14s %10s %8s  %s\n' "$name" "${runs:-?}" "${speed:-?}" "$corpus" "$result"
  [ "$result" = ok ] || grep -m5 -E 'ERROR|SUMMARY|property failed|Test unit written' "$log" || true
  rm -f "$logs/$name.result"
done <"$manifest"
exit $status
