# Sourced by the scripts that run sanitized binaries: how reports are made (docs/testing.md).
# Every variable can be overridden from the environment.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}"
  export PATH="/usr/lib/llvm-14/bin:$PATH"  # UBSan and TSan look for llvm-symbolizer on PATH
fi
# Leaks are errors; stop at the first report of any kind with an exit status ctest sees.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-second_deadlock_stack=1:history_size=4}"
if [ -f "$here/cmake/tsan.supp" ]; then
  export TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$here/cmake/tsan.supp"
fi
