// The store's scheduling contract (Store::ClaimSessions, FinishSession, lifecycle), driven
// directly, without a scheduler: claim order, max_running, idempotent outcomes, backoff, and
// the counters after every step (was tests/unit/storage/scheduling_store_test.cpp).
#include <gtest/gtest.h>

#include "tests/conformance/conformance_fixture.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

class SchedulingStoreTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    StoreConformanceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Open({.clock = clock_.AsWallClock()}));
  }

  ClaimResult Claim(int n) { return StoreConformanceTest::Claim(n, clock_.Now()); }
  ClaimResult Claim(int n, int64_t now) { return StoreConformanceTest::Claim(n, now); }

  bool Finish(const ClaimedSession& c, SessionOutcome::Target target, int64_t not_before = 0) {
    SessionOutcome o{.session_id = c.id, .batch_id = c.batch_id, .target = target};
    o.not_before_ms = not_before;
    o.finished_at_ms = clock_.Now();
    if (target == SessionOutcome::Target::kError) {
      o.error_kind = "permanent";
      o.error_message = "boom";
    }
    Result<bool> r = Await<bool>([&](auto cb) { store().FinishSession(o, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  }

  // The store reads it until it closes: the fixture's TearDown closes the store before the
  // members go.
  batchd::testing::ManualClock clock_;
};

TEST_P(SchedulingStoreTest, ClaimsHigherPriorityFirstThenOlderBatchesInIdOrder) {
  BatchCreated low_old = Create(MakeBatch(3, /*priority=*/0));
  BatchCreated high = Create(MakeBatch(2, /*priority=*/5));
  BatchCreated low_new = Create(MakeBatch(2, /*priority=*/0));

  ClaimResult r = Claim(6);
  ASSERT_EQ(r.sessions.size(), 6u);
  std::vector<std::pair<std::string, uint64_t>> order;
  for (const ClaimedSession& c : r.sessions) order.emplace_back(c.batch_public_id, c.ordinal);
  EXPECT_EQ(order, (std::vector<std::pair<std::string, uint64_t>>{{high.public_id, 0},
                                                                  {high.public_id, 1},
                                                                  {low_old.public_id, 0},
                                                                  {low_old.public_id, 1},
                                                                  {low_old.public_id, 2},
                                                                  {low_new.public_id, 0}}));
  for (const ClaimedSession& c : r.sessions) {
    EXPECT_EQ(c.attempts, 1);
    EXPECT_FALSE(c.execution) << "a fresh claim has no execution state yet";
  }
  EXPECT_EQ(Batch(low_old.public_id).state, BatchState::kRunning);
  EXPECT_EQ(Batch(low_new.public_id).counts.in_progress, 1);
  engine().ExpectCountersEqualRows();
}

TEST_P(SchedulingStoreTest, ClaimsNeverExceedMaxRunningAndNeverCreateSessionState) {
  NewBatch b = MakeBatch(10);
  b.max_running = 3;
  BatchCreated c = Create(std::move(b));
  ClaimResult first = Claim(100);
  EXPECT_EQ(first.sessions.size(), 3u);
  EXPECT_TRUE(Claim(100).sessions.empty()) << "max_running is reached";
  EXPECT_EQ(engine().CountRows("session_state"), 0) << "claiming alone materializes nothing";

  ASSERT_FALSE(first.sessions.empty());
  ASSERT_TRUE(Finish(first.sessions[0], SessionOutcome::Target::kCompleted));
  ClaimResult next = Claim(100);
  ASSERT_EQ(next.sessions.size(), 1u);
  EXPECT_EQ(next.sessions[0].ordinal, 3u);
  EXPECT_EQ(Batch(c.public_id).counts.in_progress, 3);
  engine().ExpectCountersEqualRows();
}

TEST_P(SchedulingStoreTest, AnOutcomeCountsOnceEvenIfReportedTwice) {
  BatchCreated c = Create(MakeBatch(1));
  ClaimResult r = Claim(1);
  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_TRUE(Finish(r.sessions[0], SessionOutcome::Target::kCompleted));
  EXPECT_FALSE(Finish(r.sessions[0], SessionOutcome::Target::kCompleted));
  EXPECT_FALSE(Finish(r.sessions[0], SessionOutcome::Target::kError));
  BatchRecord b = Batch(c.public_id);
  EXPECT_EQ(b.counts.completed, 1);
  EXPECT_EQ(b.counts.error, 0);
  EXPECT_EQ(b.state, BatchState::kCompleted);
  EXPECT_TRUE(b.finished_at_ms);
  engine().ExpectCountersEqualRows();
}

TEST_P(SchedulingStoreTest, RequeuedSessionWaitsOutItsBackoffAndKeepsItsState) {
  Create(MakeBatch(1));
  const int64_t now = clock_.Now();
  ClaimResult r = Claim(1, now);
  ASSERT_EQ(r.sessions.size(), 1u);
  store().SaveExecutionState(r.sessions[0].id, R"({"job":{"op":"noop"},"resolved":{}})", now);
  ASSERT_TRUE(Finish(r.sessions[0], SessionOutcome::Target::kRequeue, now + 60'000));

  ClaimResult early = Claim(1, now + 1000);
  EXPECT_TRUE(early.sessions.empty());
  ASSERT_TRUE(early.next_due_ms);
  EXPECT_EQ(*early.next_due_ms, now + 60'000);

  ClaimResult due = Claim(1, now + 60'000);
  ASSERT_EQ(due.sessions.size(), 1u);
  EXPECT_EQ(due.sessions[0].attempts, 2);
  ASSERT_TRUE(due.sessions[0].execution);
  EXPECT_EQ(due.sessions[0].execution->state_json, R"({"job":{"op":"noop"},"resolved":{}})");
  engine().ExpectCountersEqualRows();
}

// The times the store stamps itself come from its clock (the options' clock), not the
// system's: a clock set to 2001 gives 2001 times.
TEST_P(SchedulingStoreTest, TheStoreStampsItsOwnTimesWithItsClock) {
  constexpr int64_t kT = 1'000'000'000'000;  // 2001-09-09, no system clock's time today
  clock_.Set(kT);
  BatchCreated c = Create(MakeBatch(2));
  EXPECT_EQ(Batch(c.public_id).created_at_ms, kT);
  clock_.Advance(std::chrono::milliseconds(5000));
  Result<BatchRecord> canceled =
      Await<BatchRecord>([&](auto cb) { store().CancelBatch(c.public_id, cb); });
  ASSERT_TRUE(canceled.ok()) << canceled.status().ToString();
  EXPECT_EQ(canceled->state, BatchState::kCanceled);
  ASSERT_TRUE(canceled->finished_at_ms);
  EXPECT_EQ(*canceled->finished_at_ms, kT + 5000);

  // A session a crash left in progress is requeued at open, claimable from the clock's now.
  BatchCreated d = Create(MakeBatch(1));
  ASSERT_EQ(Claim(1).sessions.size(), 1u);
  clock_.Advance(std::chrono::milliseconds(5000));
  ASSERT_NO_FATAL_FAILURE(Reopen());
  std::optional<SessionRow> row = engine().Session(Batch(d.public_id).first_session_id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->not_before, kT + 10'000);
}

TEST_P(SchedulingStoreTest, ReopeningRequeuesSessionsACrashLeftInProgress) {
  BatchCreated c = Create(MakeBatch(4));
  ClaimResult r = Claim(3);
  ASSERT_EQ(r.sessions.size(), 3u);
  ASSERT_TRUE(Finish(r.sessions[0], SessionOutcome::Target::kCompleted));
  store().SaveExecutionState(r.sessions[1].id, R"({"job":{},"resolved":{}})", clock_.Now());
  // Make sure the saved state is committed before the "crash" (a later write flushes it).
  ASSERT_TRUE(Batch(c.public_id).counts.in_progress == 2);
  ASSERT_TRUE(Await<QueueStatus>([&](auto cb) { store().SetQueuePaused(false, cb); }).ok());

  ASSERT_NO_FATAL_FAILURE(Reopen());  // two sessions were in progress when the store went away

  BatchRecord b = Batch(c.public_id);
  EXPECT_EQ(b.counts.in_progress, 0);
  EXPECT_EQ(b.counts.uninitialized, 3);
  EXPECT_EQ(b.counts.completed, 1);
  ClaimResult again = Claim(10);
  ASSERT_EQ(again.sessions.size(), 3u);
  EXPECT_EQ(again.sessions[0].id, r.sessions[1].id) << "requeued sessions go first";
  EXPECT_TRUE(again.sessions[0].execution) << "its execution state was kept";
  engine().ExpectCountersEqualRows();
}

TEST_P(SchedulingStoreTest, CancelPauseRetryAndDeleteFollowTheBatchState) {
  BatchCreated c = Create(MakeBatch(5));
  ClaimResult r = Claim(2);
  ASSERT_EQ(r.sessions.size(), 2u);
  ASSERT_TRUE(Finish(r.sessions[0], SessionOutcome::Target::kError));

  Result<BatchRecord> paused =
      Await<BatchRecord>([&](auto cb) { store().SetBatchPaused(c.public_id, true, cb); });
  ASSERT_TRUE(paused.ok());
  EXPECT_EQ(paused->state, BatchState::kPaused);
  EXPECT_TRUE(Claim(10).sessions.empty()) << "a paused batch is not claimed";

  Result<uint64_t> early_delete =
      Await<uint64_t>([&](auto cb) { store().DeleteBatch(c.public_id, cb); });
  EXPECT_EQ(early_delete.status().code(), StatusCode::kConflict);

  Result<BatchRecord> canceled =
      Await<BatchRecord>([&](auto cb) { store().CancelBatch(c.public_id, cb); });
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->counts.canceled, 3);
  EXPECT_EQ(canceled->counts.in_progress, 1) << "the running one is the scheduler's to stop";
  ASSERT_TRUE(Finish(r.sessions[1], SessionOutcome::Target::kCanceled));
  EXPECT_EQ(Batch(c.public_id).state, BatchState::kFailed) << "one error, the rest canceled";

  Result<BatchRecord> pause_done =
      Await<BatchRecord>([&](auto cb) { store().SetBatchPaused(c.public_id, true, cb); });
  EXPECT_EQ(pause_done.status().code(), StatusCode::kConflict);

  Result<BatchRecord> retried =
      Await<BatchRecord>([&](auto cb) { store().RetryBatch(c.public_id, clock_.Now(), cb); });
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->counts.uninitialized, 5);
  EXPECT_EQ(retried->state, BatchState::kPaused) << "still paused: retry does not resume";
  ASSERT_TRUE(
      Await<BatchRecord>([&](auto cb) { store().SetBatchPaused(c.public_id, false, cb); }).ok());
  EXPECT_EQ(Claim(10).sessions.size(), 5u);
  engine().ExpectCountersEqualRows();
}

TEST_P(SchedulingStoreTest, SessionLifecycleAndQueuePause) {
  BatchCreated c = Create(MakeBatch(3));
  Result<QueueStatus> paused =
      Await<QueueStatus>([&](auto cb) { store().SetQueuePaused(true, cb); });
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(paused->paused);
  EXPECT_TRUE(Claim(10).sessions.empty()) << "a paused queue claims nothing";
  ASSERT_NO_FATAL_FAILURE(Reopen());
  Result<QueueStatus> after = Await<QueueStatus>([&](auto cb) { store().GetQueueStatus(cb); });
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->paused) << "the pause survives a restart";
  EXPECT_EQ(after->counts.uninitialized, 3);
  ASSERT_TRUE(Await<QueueStatus>([&](auto cb) { store().SetQueuePaused(false, cb); }).ok());

  const int64_t first = Batch(c.public_id).first_session_id;
  Result<SessionRecord> canceled =
      Await<SessionRecord>([&](auto cb) { store().CancelSession(first, cb); });
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->state, SessionState::kCanceled);
  Result<SessionRecord> retry_fresh =
      Await<SessionRecord>([&](auto cb) { store().RetrySession(first + 1, clock_.Now(), cb); });
  EXPECT_EQ(retry_fresh.status().code(), StatusCode::kConflict);
  Result<SessionRecord> retried =
      Await<SessionRecord>([&](auto cb) { store().RetrySession(first, clock_.Now(), cb); });
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->state, SessionState::kUninitialized);
  EXPECT_EQ(Claim(10).sessions.size(), 3u);
  Result<SessionRecord> missing =
      Await<SessionRecord>([&](auto cb) { store().CancelSession(999999, cb); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  engine().ExpectCountersEqualRows();
}

BATCHD_FOR_EVERY_STORE(SchedulingStoreTest);

}  // namespace
}  // namespace batchd::storage::conformance
