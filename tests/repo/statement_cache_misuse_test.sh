#!/usr/bin/env bash
# StatementCache keys statements by the address of their text (storage/statement_cache.h), so
# every use with a text that may not outlive the cache must fail to compile. Compiles
# statement_cache_misuse/good.cpp (must succeed: the control) and each other file there (each
# must fail, with a diagnostic at the Use call). Usage: statement_cache_misuse_test.sh
# REPO_ROOT CXX_COMPILER.
set -uo pipefail
root="$1"
cxx="$2"
dir="$root/tests/repo/statement_cache_misuse"
compile() { "$cxx" -std=c++20 -fsyntax-only -I"$root" "$1" 2>&1; }
status=0
if ! out="$(compile "$dir/good.cpp")"; then
  echo "FAIL: good.cpp does not compile, so the misuse checks prove nothing:"
  echo "$out"
  exit 1
fi
echo "ok: good.cpp compiles"
for f in "$dir"/*.cpp; do
  [ "$(basename "$f")" = good.cpp ] && continue
  if out="$(compile "$f")"; then
    echo "FAIL: $(basename "$f") compiles"
    status=1
  elif ! grep -q "Use" <<<"$out"; then
    echo "FAIL: $(basename "$f") fails for another reason:"
    echo "$out"
    status=1
  else
    echo "ok: $(basename "$f") does not compile"
  fi
done
exit $status
