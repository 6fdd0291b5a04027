#!/usr/bin/env bash
# Wall-clock time reaches the code through an injected WallClock (core/clock.h), so tests can
# set it instead of sleeping: the system's clock, UnixMillis(), is called only where the seam
# defines it and where ManualClock takes its starting time. Usage: clock_seam_test.sh
# REPO_ROOT. Exit 1 listing every other call.
set -euo pipefail
cd "$1"
allowed=(
  core/clock.h
  tests/support/manual_clock.h
)
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h' 2>/dev/null ||
  find . \( -name '*.cpp' -o -name '*.h' \) -not -path './build*' -printf '%P\n')
[ ${#files[@]} -gt 0 ] || { echo "no C++ files found under $1"; exit 1; }
# The control: the pattern finds the definition, so a broken pattern cannot pass unseen.
grep -q 'UnixMillis()' core/clock.h || { echo "FAIL: no UnixMillis() in core/clock.h"; exit 1; }
status=0
for f in "${files[@]}"; do
  for a in "${allowed[@]}"; do [ "$f" = "$a" ] && continue 2; done
  if hits="$(grep -n 'UnixMillis()' "$f")"; then
    while IFS= read -r line; do echo "calls the system clock: $f:$line"; done <<<"$hits"
    status=1
  fi
done
[ $status -eq 0 ] && echo "${#files[@]} files checked: UnixMillis() only in ${allowed[*]}"
[ $status -eq 0 ] || echo "take a WallClock (core/clock.h) instead; tests use tests/support/manual_clock.h"
exit $status
