// The progress writer (storage/pg/pg_progress_events.h) against transactions of other
// connections that hold a batch row: it waits for them and reads what they committed, so no
// batch.progress is numbered after its batch's batch.finished.
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/pg/pg_event_sequencer.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_progress_events.h"
#include "tests/pg/pg_event_hub_harness.h"
#include "tests/pg/pg_test_db.h"

namespace batchd::storage::pg {
namespace {

using batchd::testing::InsertBatchRow;
using batchd::testing::MigratedPgDatabaseUri;
using batchd::testing::PollUntil;

class PgProgressEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uri_ = MigratedPgDatabaseUri();
    ASSERT_FALSE(uri_.empty());
    conn_ = Connect();
    holder_ = Connect();
    ASSERT_TRUE(conn_ && holder_);
    batch_id_ = InsertBatchRow(*conn_, "b-1", "running", 3, 0);
  }

  std::unique_ptr<PgConnection> Connect() {
    auto conn = PgConnection::Open(uri_);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  // Runs the writer for a round naming the batch on a thread while `holder_` holds the batch
  // row in an open transaction that ran `change`; commits that transaction once the writer
  // waits on a lock (or has finished: the bug this guards against), and answers what the
  // writer wrote.
  Result<int64_t> WriteWhileTheRowIsHeldBy(const std::string& change) {
    Status begun = holder_->Run("BEGIN");
    EXPECT_TRUE(begun.ok()) << begun.ToString();
    Status changed = holder_->Run(change, {PgParam::Int(batch_id_)});
    EXPECT_TRUE(changed.ok()) << changed.ToString();

    std::optional<Result<int64_t>> written;
    std::atomic<bool> done{false};
    std::thread writer([&] {
      auto conn = Connect();
      if (conn) {
        LiveProgressCoalescer::Round round;
        round.batches = {batch_id_};
        written = writer_.Write(*conn, round, batchd::testing::kPgTestWallClock());
      }
      done = true;
    });
    PollUntil([&] { return done.load() || WaitingOnALock(); });
    Status committed = holder_->Run("COMMIT");
    EXPECT_TRUE(committed.ok()) << committed.ToString();
    writer.join();
    if (!written) return Status::Internal("the writer could not connect");
    return *written;
  }

  bool WaitingOnALock() {
    auto r = conn_->Exec(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'");
    return r.ok() && r->Int(0, 0) > 0;
  }

  // The log of the batch's events in seq order, after numbering all.
  std::vector<EventRecord> Log() {
    while (true) {
      auto n = RunSequencerPass(*conn_, 1000);
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      if (!n.ok() || *n == 0) break;
    }
    auto page = ReadEvents(*conn_, {});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->events : std::vector<EventRecord>{};
  }

  std::string uri_;
  std::unique_ptr<PgConnection> conn_;
  std::unique_ptr<PgConnection> holder_;  // the other node's transaction
  int64_t batch_id_ = 0;
  PgProgressEventWriter writer_;
};

TEST_F(PgProgressEventsTest, ABatchFinishedMeanwhileGetsNoBatchProgressAfterItsFinish) {
  Result<int64_t> written = WriteWhileTheRowIsHeldBy(
      "UPDATE batch SET n_in_progress = 0, n_completed = 3, state = 'completed', "
      "finished_at = 5000 WHERE id = $1");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 0) << "a batch.progress was read from the batch before it finished";

  const std::vector<EventRecord> log = Log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().type, EventType::kBatchFinished);
  for (const EventRecord& e : log) EXPECT_NE(e.type, EventType::kBatchProgress);
}

TEST_F(PgProgressEventsTest, ABatchChangedMeanwhileGetsTheCountersThatTransactionCommitted) {
  Result<int64_t> written =
      WriteWhileTheRowIsHeldBy("UPDATE batch SET n_in_progress = 2, n_completed = 1 WHERE id = $1");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 1);

  std::vector<EventRecord> progress;
  for (const EventRecord& e : Log()) {
    if (e.type == EventType::kBatchProgress) progress.push_back(e);
  }
  ASSERT_EQ(progress.size(), 1u);
  ASSERT_TRUE(progress[0].counts);
  EXPECT_EQ(progress[0].counts->in_progress, 2);
  EXPECT_EQ(progress[0].counts->completed, 1);
}

}  // namespace
}  // namespace batchd::storage::pg
