// A private directory under /tmp for one test, removed (with everything in it) on destruction,
// so each test's daemon gets a fresh data dir and nothing accumulates between runs.
#pragma once

#include <filesystem>

namespace batchd::testing {

class TempDir {
 public:
  // Creates /tmp/batchd-test-XXXXXX. Aborts the test binary if /tmp is unusable: nothing in a
  // test can proceed without it, and an exception from a fixture would hide the cause.
  TempDir();
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;  // constant after construction
};

}  // namespace batchd::testing
