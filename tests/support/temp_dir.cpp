#include "tests/support/temp_dir.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace batchd::testing {

TempDir::TempDir() {
  std::string pattern = "/tmp/batchd-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp(%s) failed: %s\n", pattern.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  // Set BATCHD_KEEP_TEST_DIRS=1 to keep data dirs (database, daemon log) for a post-mortem.
  if (const char* keep = std::getenv("BATCHD_KEEP_TEST_DIRS"); keep && *keep == '1') {
    std::fprintf(stderr, "keeping test dir %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;  // best effort: a leftover dir under /tmp must not fail a test
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace batchd::testing
