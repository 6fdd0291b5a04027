#!/usr/bin/env bash
# The lock annotations (core/thread_annotations.h, core/mutex.h) are checked only if clang's
# -Wthread-safety really rejects a guarded member touched without its lock. Compiles
# thread_safety/good.cpp (must succeed: the control) and each other file there (each must fail
# with a thread-safety diagnostic). Usage: thread_safety_test.sh REPO_ROOT. Exit 77 (skipped)
# when clang++-14 is missing: GCC has no such analysis.
set -uo pipefail
root="$1"
dir="$root/tests/repo/thread_safety"
cxx="$(command -v clang++-14 || true)"
[ -n "$cxx" ] || { echo "clang++-14 not found: skipped"; exit 77; }
compile() { "$cxx" -std=c++20 -fsyntax-only -Wthread-safety -Werror -I"$root" "$1" 2>&1; }
status=0
if ! out="$(compile "$dir/good.cpp")"; then
  echo "FAIL: good.cpp does not compile, so the failures below would prove nothing:"
  echo "$out"
  exit 1
fi
echo "ok: good.cpp compiles"
for f in "$dir"/*.cpp; do
  [ "$(basename "$f")" = good.cpp ] && continue
  if out="$(compile "$f")"; then
    echo "FAIL: $(basename "$f") compiles"
    status=1
  elif ! grep -q -- "-Wthread-safety" <<<"$out"; then
    echo "FAIL: $(basename "$f") fails for another reason:"
    echo "$out"
    status=1
  else
    echo "ok: $(basename "$f") does not compile"
  fi
done
exit $status
