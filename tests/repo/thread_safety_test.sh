#!/usr/bin/env bash
# The lock annotations (core/thread_annotations.h, core/mutex.h) are checked only if clang's
# -Wthread-safety really rejects a guarded member touched without its lock. Compiles
# thread_safety/good.cpp (must succeed: the control) and each other file there (each must fail
# with a thread-safety diagnostic). Usage: thread_safety_test.sh REPO_ROOT. Exit 77 (skipped)
# when clang++-14 is missing: GCC has no such analysis.
set -uo pipefail
root="$1"
cxx="$(command -v clang++-14 || true)"
[ -n "$cxx" ] || { echo "clang++-14 not found: skipped"; exit 77; }
exec bash "$root/tests/repo/expect_compile_failures.sh" "$root/tests/repo/thread_safety" \
  "-Wthread-safety" "$cxx" -std=c++20 -fsyntax-only -Wthread-safety -Werror -I"$root"
