#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "storage/pg/pg_batch_queries.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_lifecycle.h"
#include "tests/pg/pg_data_fixture.h"

namespace batchd::storage::pg {
namespace {

class PgLifecycleTest : public PgDataTest {
 protected:
  void SetUp() override {
    PgDataTest::SetUp();
    auto listener = PgConnection::Open(uri_);
    ASSERT_TRUE(listener.ok());
    listener_ = std::move(listener).value();
    ASSERT_TRUE(listener_->Listen("batchd_stop").ok());
  }

  // The batchd_stop payloads that arrived (a committed NOTIFY is delivered before the next
  // statement of the listener; a short wait suffices).
  std::vector<std::string> StopsReceived() {
    std::vector<std::string> out;
    auto got = listener_->WaitForNotifications(std::chrono::milliseconds(200));
    EXPECT_TRUE(got.ok());
    if (got.ok()) {
      for (const auto& n : *got) out.push_back(n.payload);
    }
    return out;
  }

  int64_t Events(const std::string& type) {
    return QueryInt("SELECT count(*) FROM event WHERE type = '" + type + "'");
  }

  std::unique_ptr<PgConnection> listener_;
};

TEST_F(PgLifecycleTest, CancelBatchCancelsWhatWaitsAndTellsTheNodesToStopTheRest) {
  BatchCreated b = Insert(10);
  SetSessionStates(b.id, 0, 2, SessionState::kInProgress);
  SetSessionStates(b.id, 2, 3, SessionState::kCompleted);
  auto canceled = CancelBatch(*conn_, b.public_id, 7000);
  ASSERT_TRUE(canceled.ok()) << canceled.status().message();
  EXPECT_EQ(canceled->counts, (SessionCounts{.in_progress = 2, .completed = 3, .canceled = 5}));
  EXPECT_EQ(canceled->state, BatchState::kRunning);  // until its running sessions stop
  EXPECT_FALSE(canceled->finished_at_ms);
  EXPECT_EQ(StopsReceived(), std::vector<std::string>{"batch:" + b.public_id});
  ExpectCountersMatchRows();

  // The two running ones end canceled: then the batch is finished.
  SetSessionStates(b.id, 0, 2, SessionState::kCanceled);
  auto again = CancelBatch(*conn_, b.public_id, 8000);  // repeating holds: not an error
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->state, BatchState::kCanceled);
  EXPECT_EQ(again->counts, (SessionCounts{.completed = 3, .canceled = 7}));
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, CancellingAQueuedBatchFinishesItWithItsEvents) {
  BatchCreated b = Insert(4);
  auto canceled = CancelBatch(*conn_, b.public_id, 7000);
  ASSERT_TRUE(canceled.ok()) << canceled.status().message();
  EXPECT_EQ(canceled->state, BatchState::kCanceled);
  EXPECT_EQ(canceled->finished_at_ms, 7000);
  EXPECT_EQ(Events("batch.state"), 1);
  EXPECT_EQ(Events("batch.finished"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 4 AND not_before IS NULL"), 4);
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, CancelBatchRefusesWhatItCannotCancel) {
  EXPECT_EQ(CancelBatch(*conn_, "nope", 1).status().code(), StatusCode::kNotFound);
  BatchCreated done = Insert(2);
  SetSessionStates(done.id, 0, 2, SessionState::kCompleted);
  auto refused = CancelBatch(*conn_, done.public_id, 1);
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_NE(refused.status().message().find("already completed"), std::string::npos);
  BatchCreated failed = Insert(2);
  SetSessionStates(failed.id, 0, 2, SessionState::kError);
  EXPECT_EQ(CancelBatch(*conn_, failed.public_id, 1).status().code(), StatusCode::kConflict);
  BatchCreated storing = Insert(2);
  ASSERT_TRUE(
      conn_->Run("UPDATE batch SET state = 'enqueuing' WHERE id = $1", {PgParam::Int(storing.id)})
          .ok());
  auto enqueuing = CancelBatch(*conn_, storing.public_id, 1);
  EXPECT_EQ(enqueuing.status().code(), StatusCode::kConflict);
  EXPECT_NE(enqueuing.status().message().find("still being stored"), std::string::npos);
  EXPECT_TRUE(StopsReceived().empty());  // refused: nothing sent (rolled back)
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, PauseAndResumeMoveTheStateAndPersistTheFlag) {
  BatchCreated b = Insert(3);
  auto paused = SetBatchPaused(*conn_, b.public_id, true, 1);
  ASSERT_TRUE(paused.ok()) << paused.status().message();
  EXPECT_EQ(paused->state, BatchState::kPaused);
  EXPECT_EQ(QueryInt("SELECT paused FROM batch"), 1);
  EXPECT_TRUE(SetBatchPaused(*conn_, b.public_id, true, 2).ok());  // again: holds
  auto resumed = SetBatchPaused(*conn_, b.public_id, false, 3);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->state, BatchState::kQueued);
  EXPECT_EQ(Events("batch.state"), 2);
  SetSessionStates(b.id, 0, 1, SessionState::kInProgress);
  auto running = SetBatchPaused(*conn_, b.public_id, true, 4);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, BatchState::kPaused);
  EXPECT_EQ(SetBatchPaused(*conn_, b.public_id, false, 5)->state, BatchState::kRunning);

  SetSessionStates(b.id, 0, 3, SessionState::kCompleted);
  EXPECT_EQ(SetBatchPaused(*conn_, b.public_id, true, 6).status().code(), StatusCode::kConflict);
  EXPECT_EQ(SetBatchPaused(*conn_, "nope", true, 6).status().code(), StatusCode::kNotFound);
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, RetryBatchRequeuesErrorsAndCancelsFromNow) {
  BatchCreated b = Insert(6);
  SetSessionStates(b.id, 0, 2, SessionState::kCompleted);
  SetSessionStates(b.id, 2, 2, SessionState::kError);
  SetSessionStates(b.id, 4, 2, SessionState::kCanceled);
  auto before = QueryBatch(*conn_, b.public_id);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->state, BatchState::kFailed);
  auto retried = RetryBatch(*conn_, b.public_id, 9000);
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_EQ(retried->counts, (SessionCounts{.uninitialized = 4, .completed = 2}));
  EXPECT_EQ(retried->state, BatchState::kRunning);
  EXPECT_FALSE(retried->finished_at_ms);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 0 AND not_before = 9000"), 4);
  ExpectCountersMatchRows();
  auto again = RetryBatch(*conn_, b.public_id, 9500);  // nothing to retry: holds
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->counts, retried->counts);
  EXPECT_EQ(RetryBatch(*conn_, "nope", 1).status().code(), StatusCode::kNotFound);
}

TEST_F(PgLifecycleTest, DeleteBatchRemovesAFinishedBatchWithEverythingItHas) {
  BatchCreated keep = Insert(2, {}, "keep");
  BatchCreated b = Insert(3);
  EXPECT_EQ(DeleteBatch(*conn_, b.public_id).status().code(), StatusCode::kConflict);
  SetSessionStates(b.id, 0, 3, SessionState::kCompleted);
  ASSERT_TRUE(
      conn_->Run("INSERT INTO session_state (session_id, result) VALUES (3, '1'), (4, '2')").ok());
  auto removed = DeleteBatch(*conn_, b.public_id);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 3u);
  EXPECT_EQ(QueryBatch(*conn_, b.public_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session_state"), 0);
  EXPECT_EQ(Events("batch.deleted"), 1);
  EXPECT_EQ(DeleteBatch(*conn_, b.public_id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(QueryBatch(*conn_, keep.public_id).ok());
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, CancelSessionByState) {
  BatchCreated b = Insert(4);
  SetSessionStates(b.id, 1, 1, SessionState::kInProgress);
  SetSessionStates(b.id, 2, 1, SessionState::kCompleted);

  auto waiting = CancelSession(*conn_, 1, 500);
  ASSERT_TRUE(waiting.ok()) << waiting.status().message();
  EXPECT_EQ(waiting->state, SessionState::kCanceled);
  EXPECT_EQ(waiting->batch_public_id, b.public_id);
  ExpectCountersMatchRows();
  EXPECT_EQ(QueryBatch(*conn_, b.public_id)->counts.canceled, 1);

  auto repeat = CancelSession(*conn_, 1, 600);  // already canceled: holds
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(repeat->state, SessionState::kCanceled);
  EXPECT_TRUE(StopsReceived().empty());

  auto running = CancelSession(*conn_, 2, 700);  // left to the node running it
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, SessionState::kInProgress);
  EXPECT_EQ(StopsReceived(), std::vector<std::string>{"session:2"});

  auto done = CancelSession(*conn_, 3, 800);
  EXPECT_EQ(done.status().code(), StatusCode::kConflict);
  EXPECT_NE(done.status().message().find("already completed"), std::string::npos);
  EXPECT_EQ(CancelSession(*conn_, 99, 1).status().code(), StatusCode::kNotFound);
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, CancellingTheLastWaitingSessionFinishesTheBatch) {
  BatchCreated b = Insert(2);
  SetSessionStates(b.id, 0, 1, SessionState::kCompleted);
  ASSERT_TRUE(CancelSession(*conn_, 2, 1234).ok());
  auto batch = QueryBatch(*conn_, b.public_id);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->state, BatchState::kCanceled);
  EXPECT_EQ(batch->finished_at_ms, 1234);
  EXPECT_EQ(Events("batch.finished"), 1);
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, RetrySessionTakesOnlyErrorOrCanceled) {
  BatchCreated b = Insert(3);
  SetSessionStates(b.id, 0, 1, SessionState::kError);
  SetSessionStates(b.id, 1, 1, SessionState::kCompleted);
  auto retried = RetrySession(*conn_, 1, 4242);
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_EQ(retried->state, SessionState::kUninitialized);
  EXPECT_EQ(retried->attempts, 1);
  EXPECT_EQ(QueryInt("SELECT not_before FROM session WHERE id = 1"), 4242);
  ExpectCountersMatchRows();
  auto again = RetrySession(*conn_, 1, 4300);  // uninitialized now: as the SQLite store
  EXPECT_EQ(again.status().code(), StatusCode::kConflict);
  EXPECT_NE(again.status().message().find("only error or canceled"), std::string::npos);
  EXPECT_EQ(RetrySession(*conn_, 2, 1).status().code(), StatusCode::kConflict);
  ASSERT_TRUE(CancelSession(*conn_, 3, 1).ok());
  EXPECT_EQ(RetrySession(*conn_, 3, 5000)->state, SessionState::kUninitialized);
  EXPECT_EQ(RetrySession(*conn_, 77, 1).status().code(), StatusCode::kNotFound);
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, SessionsOfABatchStillEnqueuingAreNotFoundForRequests) {
  BatchCreated b = Insert(2);
  ASSERT_TRUE(conn_->Run("UPDATE batch SET state = 'enqueuing'").ok());
  EXPECT_EQ(CancelSession(*conn_, 1, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RetrySession(*conn_, 1, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state <> 0"), 0);
  EXPECT_EQ(DeleteBatch(*conn_, b.public_id).status().code(), StatusCode::kConflict);
}

TEST_F(PgLifecycleTest, ARequestWaitsForTheBatchRowAnotherNodeHoldsLocked) {
  BatchCreated b = Insert(2);
  auto other = PgConnection::Open(uri_);
  ASSERT_TRUE(other.ok());
  {
    // Another node's claim holds the batch row and moves a session to in_progress.
    PgTransaction claim(**other);
    ASSERT_TRUE(claim.begun().ok());
    ASSERT_TRUE(
        (*other)->Run("SELECT 1 FROM batch WHERE id = $1 FOR UPDATE", {PgParam::Int(b.id)}).ok());
    ASSERT_TRUE((*other)->Run("UPDATE session SET state = 1, attempts = 1 WHERE id = 1").ok());
    ASSERT_TRUE((*other)
                    ->Run("UPDATE batch SET n_uninitialized = 1, n_in_progress = 1, "
                          "state = 'running' WHERE id = $1",
                          {PgParam::Int(b.id)})
                    .ok());
    Result<BatchRecord> result = Status::Internal("not run");
    std::thread request([&] {
      auto conn = PgConnection::Open(uri_);
      ASSERT_TRUE(conn.ok());
      result = CancelBatch(**conn, b.public_id, 10);
    });
    for (int i = 0; i < 2000; ++i) {
      if (QueryInt("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                   "datname = current_database()") > 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(claim.Commit().ok());
    request.join();
    ASSERT_TRUE(result.ok()) << result.status().message();
    // The cancel saw the claim's commit: the claimed session is left running.
    EXPECT_EQ(result->counts, (SessionCounts{.in_progress = 1, .canceled = 1}));
  }
  ExpectCountersMatchRows();
}

TEST_F(PgLifecycleTest, SessionRequestsWriteTheirSessionStateEventInTheirTransaction) {
  BatchCreated b = Insert(2);
  SetSessionStates(b.id, 1, 1, SessionState::kCompleted);
  ASSERT_TRUE(CancelSession(*conn_, 1, 100).ok());
  ASSERT_TRUE(RetrySession(*conn_, 1, 200).ok());
  EXPECT_EQ(CancelSession(*conn_, 2, 300).status().code(), StatusCode::kConflict);
  auto r = conn_->Exec(
      "SELECT session_id, state_from, state_to, attempt, batch FROM event "
      "WHERE type = 'session.state' ORDER BY id");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->rows(), 2);
  EXPECT_EQ(r->Int(0, 0), 1);
  EXPECT_EQ(r->Text(0, 1), "uninitialized");
  EXPECT_EQ(r->Text(0, 2), "canceled");
  EXPECT_EQ(r->Text(0, 4), b.public_id);
  EXPECT_EQ(r->Text(1, 1), "canceled");
  EXPECT_EQ(r->Text(1, 2), "uninitialized");
}

TEST_F(PgLifecycleTest, TheQueuePauseIsStored) {
  auto paused = SetQueuePaused(*conn_, true);
  ASSERT_TRUE(paused.ok()) << paused.status().message();
  EXPECT_TRUE(paused->paused);
  EXPECT_TRUE(QueryQueueStatus(*conn_)->paused);
  EXPECT_FALSE(SetQueuePaused(*conn_, false)->paused);
}

}  // namespace
}  // namespace batchd::storage::pg
