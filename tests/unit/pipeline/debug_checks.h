// For tests of debug checks (assert): they run in the trees built with assertions (the asan and
// tsan stages, RelWithDebInfo without NDEBUG) and are skipped, saying so, in Release.
#pragma once

#include <gtest/gtest.h>

#ifdef NDEBUG
#define BATCHD_SKIP_WITHOUT_DEBUG_CHECKS() \
  GTEST_SKIP() << "assertions are off in this build (NDEBUG)"
#else
// Death tests fork; "threadsafe" re-runs the test binary, so threads started earlier (none in
// these tests, but a sanitizer's) do not matter.
#define BATCHD_SKIP_WITHOUT_DEBUG_CHECKS() GTEST_FLAG_SET(death_test_style, "threadsafe")
#endif
