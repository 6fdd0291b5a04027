#!/usr/bin/env bash
# Every C++ file the repository tracks is formatted by the one .clang-format at its root, so a
# diff holds only what changed. Usage: clang_format_test.sh REPO_ROOT. Exit 77 (skipped) when
# clang-format is missing, 1 listing the files that are not formatted.
set -euo pipefail
cd "$1"
formatter="$(command -v clang-format-14 || command -v clang-format || true)"
[ -n "$formatter" ] || { echo "clang-format not found: skipped"; exit 77; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . -name '*.cpp' -o -name '*.h')
[ ${#files[@]} -gt 0 ] || { echo "no C++ files found under $1"; exit 1; }
bad=()
for f in "${files[@]}"; do
  "$formatter" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "${#files[@]} files checked, ${#bad[@]} not formatted"
for f in "${bad[@]}"; do echo "not formatted: $f (run: $formatter -i $f)"; done
[ ${#bad[@]} -eq 0 ]
