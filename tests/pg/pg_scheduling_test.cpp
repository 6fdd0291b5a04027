// PgScheduling against a real server: claim order, max_running exact across nodes, outcomes
// conditional on owning the session, requeues, checkpoints, folding, counters == rows.
#include "storage/pg/pg_scheduling.h"
#include "tests/pg/pg_test_db.h"

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "storage/pg/pg_rescue.h"
#include "tests/pg/pg_sched_fixture.h"

namespace batchd::storage::pg {
namespace {

using testing::Claim;
using testing::Completed;
using testing::Finish;

class PgSchedulingTest : public testing::PgSchedFixture {};

std::vector<int64_t> Ids(const ClaimResult& r) {
  std::vector<int64_t> ids;
  for (const auto& c : r.sessions) ids.push_back(c.id);
  return ids;
}

TEST_F(PgSchedulingTest, ClaimsByPriorityThenAgeThenIdAndRecordsTheNode) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t low = InsertBatch(5, 0);
  const int64_t high_old = InsertBatch(3, 5);
  const int64_t high_new = InsertBatch(2, 5);
  auto sched = StartScheduling(node);
  ASSERT_NE(sched, nullptr);
  const int64_t now = batchd::testing::kPgTestWallClock();

  auto first = Claim(*sched, 4, now);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->sessions.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first->sessions[i].batch_id, high_old);
  EXPECT_EQ(first->sessions[3].batch_id, high_new);
  for (int i = 0; i < 2; ++i) EXPECT_LT(first->sessions[i].id, first->sessions[i + 1].id);
  for (const auto& c : first->sessions) {
    EXPECT_EQ(c.attempts, 1);
    EXPECT_EQ(c.execution, nullptr);
  }
  auto second = Claim(*sched, 10, now);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->sessions.size(), 6u);
  EXPECT_EQ(second->sessions[0].batch_id, high_new);
  for (int i = 1; i < 6; ++i) EXPECT_EQ(second->sessions[i].batch_id, low);
  EXPECT_FALSE(second->next_due_ms.has_value());

  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1 AND node_id = " +
                     std::to_string(node)),
            10);
  EXPECT_EQ(QueryText("SELECT state FROM batch WHERE id = " + std::to_string(low)), "running");
  auto third = Claim(*sched, 10, now);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->sessions.empty());
  ExpectCountersEqualRows();
  sched->Stop();
}

TEST_F(PgSchedulingTest, APausedQueueOrBatchClaimsNothing) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t batch = InsertBatch(3);
  auto sched = StartScheduling(node);
  ASSERT_TRUE(conn_->Run("UPDATE meta SET value = 1 WHERE key = 'queue_paused'").ok());
  auto r = Claim(*sched, 3, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->sessions.empty());
  ASSERT_TRUE(conn_->Run("UPDATE meta SET value = 0 WHERE key = 'queue_paused'").ok());
  ASSERT_TRUE(
      conn_
          ->Run("UPDATE batch SET paused = 1, state = 'paused' WHERE id = " + std::to_string(batch))
          .ok());
  r = Claim(*sched, 3, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->sessions.empty());
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, ANodeThatIsNotAliveClaimsNothing) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  InsertBatch(3);
  auto sched = StartScheduling(node);
  ASSERT_TRUE(conn_->Run("UPDATE node SET state = 'dead'").ok());
  auto r = Claim(*sched, 3, batchd::testing::kPgTestWallClock());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1"), 0);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, MaxRunningIsExactAcrossTwoNodesClaimingAtOnce) {
  constexpr int64_t kSessions = 400;
  constexpr int64_t kMaxRunning = 7;
  const int64_t batch = InsertBatch(kSessions, 0, kMaxRunning);
  const int64_t n1 = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t n2 = InsertNode("n2", batchd::testing::kPgTestWallClock());
  auto s1 = StartScheduling(n1);
  auto s2 = StartScheduling(n2);
  ASSERT_NE(s1, nullptr);
  ASSERT_NE(s2, nullptr);
  std::atomic<bool> done{false};
  std::atomic<int64_t> max_rows{0}, max_counter{0}, samples{0};
  std::thread sampler([&] {
    auto c = Connect();
    while (!done.load()) {
      auto r = c->Exec(
          "SELECT (SELECT count(*) FROM session WHERE state = 1), n_in_progress FROM batch "
          "WHERE id = " +
          std::to_string(batch));
      if (!r.ok()) continue;
      max_rows = std::max(max_rows.load(), r->Int(0, 0));
      max_counter = std::max(max_counter.load(), r->Int(0, 1));
      ++samples;
    }
  });
  std::atomic<int64_t> completed{0}, claimed_total{0};
  auto worker = [&](PgScheduling& s) {
    while (completed.load() < kSessions) {
      auto r = Claim(s, 5, batchd::testing::kPgTestWallClock());
      if (!r.ok()) continue;
      claimed_total += static_cast<int64_t>(r->sessions.size());
      for (const auto& c : r->sessions) {
        auto applied = Finish(s, Completed(c, batchd::testing::kPgTestWallClock()));
        if (applied.ok() && *applied) ++completed;
      }
      if (r->sessions.empty()) std::this_thread::yield();
    }
  };
  std::thread w1([&] { worker(*s1); });
  std::thread w2([&] { worker(*s2); });
  w1.join();
  w2.join();
  done = true;
  sampler.join();
  EXPECT_EQ(completed.load(), kSessions);
  EXPECT_EQ(claimed_total.load(), kSessions);
  EXPECT_GT(samples.load(), 0);
  EXPECT_LE(max_rows.load(), kMaxRunning);
  EXPECT_LE(max_counter.load(), kMaxRunning);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 2"), kSessions);
  EXPECT_EQ(QueryText("SELECT state FROM batch WHERE id = " + std::to_string(batch)), "completed");
  // Both nodes took part.
  EXPECT_GT(QueryInt("SELECT count(*) FROM session WHERE node_id = " + std::to_string(n1)), 0);
  EXPECT_GT(QueryInt("SELECT count(*) FROM session WHERE node_id = " + std::to_string(n2)), 0);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, AnOutcomeForASessionLostToARescueIsNotApplied) {
  const int64_t n1 = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t n2 = InsertNode("n2", batchd::testing::kPgTestWallClock());
  const int64_t batch = InsertBatch(2);
  auto s1 = StartScheduling(n1);
  auto claimed = Claim(*s1, 2, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 2u);
  PgSessionEvents events({});
  auto rescue = RescueNode(*conn_, n1, n2, "dead", batchd::testing::kPgTestWallClock(), events);
  ASSERT_TRUE(rescue.ok()) << rescue.status().message();
  EXPECT_TRUE(rescue->marked);
  EXPECT_EQ(rescue->sessions.size(), 2u);
  auto applied = Finish(*s1, Completed(claimed->sessions[0], batchd::testing::kPgTestWallClock()));
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  EXPECT_EQ(QueryInt("SELECT n_uninitialized FROM batch WHERE id = " + std::to_string(batch)), 2);
  EXPECT_EQ(QueryInt("SELECT n_completed FROM batch WHERE id = " + std::to_string(batch)), 0);
  // Another node claims them again, attempt 2; its outcome applies.
  auto s2 = StartScheduling(n2);
  auto again = Claim(*s2, 2, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->sessions.size(), 2u);
  EXPECT_EQ(again->sessions[0].attempts, 2);
  // The lost node still cannot finish it, even now that it is in progress again.
  applied = Finish(*s1, Completed(again->sessions[1], batchd::testing::kPgTestWallClock()));
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  applied = Finish(*s2, Completed(again->sessions[1], batchd::testing::kPgTestWallClock()));
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, ARequeuedSessionKeepsItsAttemptsStateAndCheckpoint) {
  const int64_t n1 = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t n2 = InsertNode("n2", batchd::testing::kPgTestWallClock());
  InsertBatch(1);
  auto s1 = StartScheduling(n1);
  auto claimed = Claim(*s1, 1, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 1u);
  const int64_t id = claimed->sessions[0].id;
  s1->SaveExecutionState(id, R"({"job":"x","quote":"a\"b\\c"})", 1234);
  s1->SaveCheckpoint({.session_id = id,
                      .chunks_done = 3,
                      .chunks_total = 10,
                      .checkpoint_json = R"({"done":[0,1,2]})"});
  s1->Stop();  // flushes
  PgSessionEvents events({});
  ASSERT_TRUE(RescueNode(*conn_, n1, n2, "dead", batchd::testing::kPgTestWallClock(), events).ok());
  auto s2 = StartScheduling(n2);
  auto again = Claim(*s2, 1, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->sessions.size(), 1u);
  const ClaimedSession& c = again->sessions[0];
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.attempts, 2);
  ASSERT_NE(c.execution, nullptr);
  EXPECT_EQ(c.execution->state_json, R"({"job":"x","quote":"a\"b\\c"})");
  EXPECT_EQ(c.execution->chunks_done, 3);
  EXPECT_EQ(c.execution->chunks_total, 10);
  EXPECT_EQ(c.execution->checkpoint_json, R"({"done":[0,1,2]})");
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, ARetryWaitsForItsTimeAndIsClaimedFirst) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t batch = InsertBatch(3);
  auto sched = StartScheduling(node);
  const int64_t now = batchd::testing::kPgTestWallClock();
  auto claimed = Claim(*sched, 1, now);
  ASSERT_TRUE(claimed.ok());
  SessionOutcome retry = Completed(claimed->sessions[0], now);
  retry.target = SessionOutcome::Target::kRequeue;
  retry.error_kind = "transient";
  retry.error_message = "try again";
  retry.not_before_ms = now + 60'000;
  auto applied = Finish(*sched, retry);
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);
  auto r = Claim(*sched, 1, now);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->sessions.size(), 1u);
  EXPECT_NE(r->sessions[0].id, claimed->sessions[0].id);  // not due yet: a fresh one
  ASSERT_TRUE(r->next_due_ms.has_value());
  EXPECT_EQ(*r->next_due_ms, now + 60'000);
  auto later = Claim(*sched, 2, now + 60'000);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->sessions.size(), 2u);
  // Sorted by id within the batch; the retried session is one of them with attempt 2.
  const std::vector<int64_t> later_ids = Ids(*later);
  std::set<int64_t> ids(later_ids.begin(), later_ids.end());
  EXPECT_EQ(ids.count(claimed->sessions[0].id), 1u);
  for (const auto& c : later->sessions) {
    if (c.id == claimed->sessions[0].id) {
      EXPECT_EQ(c.attempts, 2);
      ASSERT_NE(c.execution, nullptr);
      EXPECT_EQ(c.execution->error_kind, "transient");
    }
  }
  EXPECT_EQ(QueryInt("SELECT n_in_progress FROM batch WHERE id = " + std::to_string(batch)), 3);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, OutcomesFinishTheBatchFoldResultsAndDuplicatesDoNotCount) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t ok_batch = InsertBatch(3);
  const int64_t bad_batch = InsertBatch(2);
  const int64_t cancel_batch = InsertBatch(1);
  ResultMerger sum = [](std::string_view op, const std::optional<std::string>& aggregate,
                        std::string_view result) -> Result<std::optional<std::string>> {
    EXPECT_EQ(op, "test");
    int64_t total = aggregate ? std::stoll(*aggregate) : 0;
    return std::optional<std::string>(std::to_string(total + std::stoll(std::string(result))));
  };
  auto sched = StartScheduling(node, sum);
  const int64_t now = batchd::testing::kPgTestWallClock();
  auto claimed = Claim(*sched, 6, now);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 6u);
  // All handed over before any answer: they share rounds.
  std::vector<std::future<Result<bool>>> answers;
  auto finish_async = [&](SessionOutcome o) {
    auto p = std::make_shared<std::promise<Result<bool>>>();
    answers.push_back(p->get_future());
    sched->FinishSession(std::move(o), [p](Result<bool> r) { p->set_value(std::move(r)); });
  };
  for (const auto& c : claimed->sessions) {
    SessionOutcome o = Completed(c, now, std::to_string(c.id));
    if (c.batch_id == bad_batch) {
      o.target = SessionOutcome::Target::kError;
      o.error_kind = "permanent";
      o.error_message = "no";
      o.result_json.reset();
    } else if (c.batch_id == cancel_batch) {
      o.target = SessionOutcome::Target::kCanceled;
      o.error_kind = "canceled";
      o.result_json.reset();
    }
    finish_async(o);
    if (c.batch_id == ok_batch) finish_async(Completed(c, now, "1000"));  // a duplicate
  }
  int applied = 0, refused = 0;
  for (auto& a : answers) {
    Result<bool> r = a.get();
    ASSERT_TRUE(r.ok());
    (*r ? applied : refused)++;
  }
  EXPECT_EQ(applied, 6);
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(QueryText("SELECT state FROM batch WHERE id = " + std::to_string(ok_batch)),
            "completed");
  EXPECT_EQ(QueryText("SELECT state FROM batch WHERE id = " + std::to_string(bad_batch)), "failed");
  EXPECT_EQ(QueryText("SELECT state FROM batch WHERE id = " + std::to_string(cancel_batch)),
            "canceled");
  EXPECT_GT(QueryInt("SELECT finished_at FROM batch WHERE id = " + std::to_string(ok_batch)), 0);
  int64_t expected = 0;
  for (const auto& c : claimed->sessions) {
    if (c.batch_id == ok_batch) expected += c.id;
  }
  EXPECT_EQ(QueryText("SELECT result FROM batch WHERE id = " + std::to_string(ok_batch)),
            std::to_string(expected));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session_state WHERE error_kind = 'permanent'"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM event WHERE type = 'batch.finished'"), 3);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, ACheckpointAfterTheSessionLeftIsIgnored) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  InsertBatch(1);
  auto sched = StartScheduling(node);
  auto claimed = Claim(*sched, 1, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(claimed.ok());
  const int64_t id = claimed->sessions[0].id;
  auto applied =
      Finish(*sched, Completed(claimed->sessions[0], batchd::testing::kPgTestWallClock()));
  ASSERT_TRUE(applied.ok() && *applied);
  sched->SaveCheckpoint(
      {.session_id = id, .chunks_done = 5, .chunks_total = 9, .checkpoint_json = "{}"});
  sched->Stop();
  EXPECT_EQ(
      QueryInt("SELECT chunks_done FROM session_state WHERE session_id = " + std::to_string(id)),
      0);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingTest, AfterStopEverythingIsRefusedAtOnce) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  auto sched = StartScheduling(node);
  sched->Stop();
  sched->Stop();  // idempotent
  auto r = Claim(*sched, 1, batchd::testing::kPgTestWallClock());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  SessionOutcome o;
  o.session_id = 1;
  auto f = Finish(*sched, o);
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable);
}

TEST_F(PgSchedulingTest, AServerThatIsNotThereFailsTheStart) {
  auto s = PgScheduling::Start({.uri = "postgresql://batchd@127.0.0.1:1/none?connect_timeout=2",
                                .node_id = [] { return int64_t{1}; }});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::storage::pg

namespace batchd::storage::pg {
namespace {

class PgSchedulingFailureTest : public testing::PgSchedFixture {
 protected:
  // Ends every other connection to the test database (the scheduling's own ones).
  void KillOtherConnections() {
    ASSERT_TRUE(conn_
                    ->Run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid()")
                    .ok());
  }
};

TEST_F(PgSchedulingFailureTest, LostConnectionsAreOpenedAgainAndTheOutcomeWaitsForIt) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t batch = InsertBatch(3);
  auto sched = StartScheduling(node);
  auto claimed = Claim(*sched, 2, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 2u);
  KillOtherConnections();
  // The flush's first try fails on the dead connection; it reconnects and tries again.
  auto applied =
      Finish(*sched, Completed(claimed->sessions[0], batchd::testing::kPgTestWallClock()));
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_TRUE(*applied);
  EXPECT_EQ(sched->OutcomesUnstored(), 0u);
  // The claim connection too.
  auto more = Claim(*sched, 5, batchd::testing::kPgTestWallClock());
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_EQ(more->sessions.size(), 1u);
  EXPECT_EQ(QueryInt("SELECT n_completed FROM batch WHERE id = " + std::to_string(batch)), 1);
  ExpectCountersEqualRows();
}

TEST_F(PgSchedulingFailureTest, ABatchLockedThroughoutIsNotClaimedAndIsDueAgainSoon) {
  const int64_t node = InsertNode("n1", batchd::testing::kPgTestWallClock());
  const int64_t batch = InsertBatch(3);
  auto sched = StartScheduling(node);
  auto holder = Connect();
  ASSERT_TRUE(holder->Run("BEGIN").ok());
  ASSERT_TRUE(
      holder->Run("SELECT id FROM batch WHERE id = " + std::to_string(batch) + " FOR UPDATE").ok());
  const int64_t now = batchd::testing::kPgTestWallClock();
  auto r = Claim(*sched, 3, now);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->sessions.empty());
  ASSERT_TRUE(r->next_due_ms.has_value());
  EXPECT_LE(*r->next_due_ms, now + 20);
  ASSERT_TRUE(holder->Run("COMMIT").ok());
  r = Claim(*sched, 3, now);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sessions.size(), 3u);
  EXPECT_FALSE(r->next_due_ms.has_value());
  ExpectCountersEqualRows();
}

}  // namespace
}  // namespace batchd::storage::pg
