// How a fuzz target reports a broken property: print what and why, then abort, which libFuzzer
// records as a crash and saves the input for. Used for contract checks that hold for every input
// (a round trip, an error code from the documented set), never for "this input is invalid".
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace batchd::fuzz {

[[noreturn]] inline void FuzzFail(const char* file, int line, const char* condition,
                                  const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::abort();
}

}  // namespace batchd::fuzz

// FUZZ_CHECK(cond, detail): `detail` (a std::string expression) is evaluated only on failure.
#define FUZZ_CHECK(cond, detail)                                                           \
  do {                                                                                     \
    if (!(cond)) ::batchd::fuzz::FuzzFail(__FILE__, __LINE__, #cond, std::string(detail)); \
  } while (0)
