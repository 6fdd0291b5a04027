// Helpers for the PostgreSQL scheduling and node tests: a migrated fresh database, batches and
// node rows inserted with plain SQL (independent of the store's own InsertBatch), synchronous
// wrappers and the counters == rows invariant.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_scheduling.h"

namespace batchd::storage::pg::testing {

class PgSchedFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  std::unique_ptr<PgConnection> Connect();
  // A queued batch of `sessions` fresh sessions; answers its id.
  int64_t InsertBatch(int64_t sessions, int64_t priority = 0,
                      std::optional<int64_t> max_running = std::nullopt, int64_t max_attempts = 3);
  // An alive node row (as a daemon would register), heartbeat at `heartbeat_at_ms`.
  int64_t InsertNode(const std::string& name, int64_t heartbeat_at_ms);
  std::unique_ptr<PgScheduling> StartScheduling(int64_t node_id, ResultMerger merge = nullptr,
                                                PgNodeSessions* sessions = nullptr);
  int64_t QueryInt(const std::string& sql);
  std::string QueryText(const std::string& sql);
  // Every batch's counters equal its session rows by state, and add up to session_count.
  void ExpectCountersEqualRows();

  std::string uri_;
  std::unique_ptr<PgConnection> conn_;
};

template <typename T, typename Start>
Result<T> Await(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

inline Result<ClaimResult> Claim(PgScheduling& s, int n, int64_t now_ms) {
  return Await<ClaimResult>([&](Callback<ClaimResult> done) { s.ClaimSessions(n, now_ms, done); });
}

inline Result<bool> Finish(PgScheduling& s, SessionOutcome o) {
  return Await<bool>([&](Callback<bool> done) { s.FinishSession(std::move(o), done); });
}

inline SessionOutcome Completed(const ClaimedSession& c, int64_t now_ms,
                                std::optional<std::string> result = std::nullopt) {
  SessionOutcome o;
  o.session_id = c.id;
  o.batch_id = c.batch_id;
  o.target = SessionOutcome::Target::kCompleted;
  o.result_json = std::move(result);
  if (o.result_json) o.op = "test";
  o.finished_at_ms = now_ms;
  return o;
}

}  // namespace batchd::storage::pg::testing
