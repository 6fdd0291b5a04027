#!/usr/bin/env bash
# StatementCache keys statements by the address of their text (storage/statement_cache.h), so
# every use with a text that may not outlive the cache must fail to compile. Compiles
# statement_cache_misuse/good.cpp (must succeed: the control) and each other file there (each
# must fail, with a diagnostic at the Use call). Usage: statement_cache_misuse_test.sh
# REPO_ROOT CXX_COMPILER.
set -uo pipefail
root="$1"
cxx="$2"
exec bash "$root/tests/repo/expect_compile_failures.sh" "$root/tests/repo/statement_cache_misuse" \
  "Use" "$cxx" -std=c++20 -fsyntax-only -I"$root"
