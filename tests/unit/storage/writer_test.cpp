#include "storage/writer.h"

#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <future>
#include <latch>

#include "storage/sqlite_connection.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using testing::TempDir;

// Inserts one row into t(v) per step, `steps` times; optionally fails at step `fail_at`.
class InsertJob : public WriteJob {
 public:
  InsertJob(int value, int steps, std::promise<Status>* done, int fail_at = -1)
      : value_(value), steps_(steps), fail_at_(fail_at), done_(done) {}

  Result<Progress> Step(SQLite::Database& db) override {
    SQLite::Statement s(db, "INSERT INTO t (v) VALUES (?)");
    s.bind(1, value_);
    s.exec();
    if (step_++ == fail_at_) return Status::Internal("injected failure");
    return step_ < steps_ ? Progress::kMore : Progress::kDone;
  }
  void Complete() override { done_->set_value(Status::Ok()); }
  void Fail(SQLite::Database&, const Status& s) override { done_->set_value(s); }

 private:
  int value_, steps_, fail_at_, step_ = 0;
  std::promise<Status>* done_;
};

// Blocks the writer thread until released, to fill the queue deterministically.
class BlockingJob : public WriteJob {
 public:
  BlockingJob(std::latch* started, std::latch* release) : started_(started), release_(release) {}
  Result<Progress> Step(SQLite::Database&) override {
    started_->count_down();
    release_->wait();
    return Progress::kDone;
  }
  void Complete() override {}
  void Fail(SQLite::Database&, const Status&) override {}

 private:
  std::latch* started_;
  std::latch* release_;
};

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenConnection(dir_.path() / "w.db", ConnectionRole::kWriter);
    ASSERT_TRUE(db.ok());
    (*db)->exec("CREATE TABLE t (v INTEGER)");
    writer_ = std::make_unique<Writer>(std::move(*db), WriterOptions{.queue_limit = 2});
  }

  int64_t RowsWithValue(int v) {
    SQLite::Database db((dir_.path() / "w.db").string(), SQLite::OPEN_READONLY);
    SQLite::Statement s(db, "SELECT COUNT(*) FROM t WHERE v = ?");
    s.bind(1, v);
    s.executeStep();
    return s.getColumn(0).getInt64();
  }

  Status Submit(std::unique_ptr<WriteJob> job) { return writer_->Submit(job); }

  TempDir dir_;
  std::unique_ptr<Writer> writer_;
};

TEST_F(WriterTest, MultiStepJobRunsEveryStep) {
  std::promise<Status> done;
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(1, 5, &done)).ok());
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(RowsWithValue(1), 5);
}

TEST_F(WriterTest, AFailedStepRollsBackOnlyItselfAndFailsItsJob) {
  std::latch started(1), release(1);
  ASSERT_TRUE(Submit(std::make_unique<BlockingJob>(&started, &release)).ok());
  started.wait();  // the next two jobs are queued together and share one round
  std::promise<Status> bad_done, good_done;
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(7, 1, &bad_done, /*fail_at=*/0)).ok());
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(8, 1, &good_done)).ok());
  release.count_down();

  Status bad = bad_done.get_future().get();
  EXPECT_EQ(bad.code(), StatusCode::kInternal);
  EXPECT_TRUE(good_done.get_future().get().ok());
  EXPECT_EQ(RowsWithValue(7), 0);
  EXPECT_EQ(RowsWithValue(8), 1);
}

// Inserts more than a capped database has room for: its step fails with SQLITE_FULL.
class OversizedInsertJob : public WriteJob {
 public:
  explicit OversizedInsertJob(std::promise<Status>* done) : done_(done) {}
  Result<Progress> Step(SQLite::Database& db) override {
    db.exec("INSERT INTO t (v) VALUES (randomblob(1048576))");
    return Progress::kDone;
  }
  void Complete() override { done_->set_value(Status::Ok()); }
  void Fail(SQLite::Database&, const Status& s) override { done_->set_value(s); }

 private:
  std::promise<Status>* done_;
};

// Caps the writer's database at the pages it has (PRAGMA max_page_count is the connection's),
// then blocks like BlockingJob.
class CapThenBlockJob : public BlockingJob {
 public:
  using BlockingJob::BlockingJob;
  Result<Progress> Step(SQLite::Database& db) override {
    const int64_t pages = db.execAndGet("PRAGMA page_count").getInt64();
    db.execAndGet("PRAGMA max_page_count = " + std::to_string(pages));
    return BlockingJob::Step(db);
  }
};

TEST_F(WriterTest, AJobThatFailedOnItsOwnKeepsItsReasonWhenTheRoundFailsToo) {
  std::latch started(1), release(1);
  ASSERT_TRUE(Submit(std::make_unique<CapThenBlockJob>(&started, &release)).ok());
  started.wait();  // the next two jobs are queued together and share one round
  std::promise<Status> refused_done, full_done;
  // A job that answers "not now" (as a claim does while outcomes wait) ...
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(7, 1, &refused_done, /*fail_at=*/0)).ok());
  // ... in a round that the full database then fails.
  ASSERT_TRUE(Submit(std::make_unique<OversizedInsertJob>(&full_done)).ok());
  release.count_down();
  const Status full = full_done.get_future().get();
  EXPECT_FALSE(full.ok());
  const Status refused = refused_done.get_future().get();
  EXPECT_EQ(refused.code(), StatusCode::kInternal) << refused.ToString();
  EXPECT_EQ(RowsWithValue(7), 0);
}

TEST_F(WriterTest, FullQueueRefusesWithUnavailableAndKeepsTheJob) {
  std::latch started(1), release(1);
  ASSERT_TRUE(Submit(std::make_unique<BlockingJob>(&started, &release)).ok());
  started.wait();
  std::promise<Status> d1, d2, d3;
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(1, 1, &d1)).ok());
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(1, 1, &d2)).ok());
  std::unique_ptr<WriteJob> third = std::make_unique<InsertJob>(1, 1, &d3);
  Status refused = writer_->Submit(third);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(third, nullptr);  // handed back untouched
  release.count_down();
  EXPECT_TRUE(d1.get_future().get().ok());
  EXPECT_TRUE(d2.get_future().get().ok());
  EXPECT_EQ(RowsWithValue(1), 2);
}

TEST_F(WriterTest, StopRunsEverythingQueuedThenRefuses) {
  std::promise<Status> done;
  ASSERT_TRUE(Submit(std::make_unique<InsertJob>(3, 50, &done)).ok());
  writer_->Stop();
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(RowsWithValue(3), 50);
  std::promise<Status> late;
  EXPECT_EQ(Submit(std::make_unique<InsertJob>(4, 1, &late)).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::storage
