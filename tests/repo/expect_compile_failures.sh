#!/usr/bin/env bash
# Shared by the tests that prove a compile-time check can fail (statement_cache_misuse_test.sh,
# thread_safety_test.sh). Compiles DIR/good.cpp, which must succeed (the control: without it the
# failures prove nothing), then each other .cpp in DIR, which must fail with a diagnostic
# matching PATTERN (grep -e), so that a file broken for another reason does not pass. Usage:
# expect_compile_failures.sh DIR PATTERN COMPILER [FLAGS...]. Exit 0 when all hold, 1 otherwise.
set -uo pipefail
dir="$1"
pattern="$2"
shift 2
compile() { "$@" "$file" 2>&1; }
file="$dir/good.cpp"
if ! out="$(compile "$@")"; then
  echo "FAIL: good.cpp does not compile, so the failures below would prove nothing:"
  echo "$out"
  exit 1
fi
echo "ok: good.cpp compiles"
status=0
for file in "$dir"/*.cpp; do
  [ "$(basename "$file")" = good.cpp ] && continue
  if out="$(compile "$@")"; then
    echo "FAIL: $(basename "$file") compiles"
    status=1
  elif ! grep -q -e "$pattern" <<<"$out"; then
    echo "FAIL: $(basename "$file") fails for another reason:"
    echo "$out"
    status=1
  else
    echo "ok: $(basename "$file") does not compile"
  fi
done
exit $status
