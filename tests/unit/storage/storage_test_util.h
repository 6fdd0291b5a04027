// Helpers for storage tests: a temp directory, synchronous wrappers for the callback API, and
// the invariant every test re-checks (batch counters equal the session rows).
#pragma once

#include <future>
#include <string>

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include "core/status.h"
#include "storage/store.h"

namespace batchd::storage::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Calls `start(callback)` and waits for the callback's Result.
template <typename T, typename Start>
Result<T> Await(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

// A batch with `sessions` sessions: one group of that many items.
NewBatch MakeBatch(uint64_t sessions, int64_t priority = 0);

// For every batch: each n_<state> counter equals the number of its session rows in that state,
// and the counters add up to session_count. Opens its own read-only connection.
void ExpectCountersEqualRows(const std::filesystem::path& db_path);

int64_t CountRows(const std::filesystem::path& db_path, const std::string& table);

}  // namespace batchd::storage::testing
