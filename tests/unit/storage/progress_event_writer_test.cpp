// The progress event writer on a real (in-memory) database with the real schema
// (storage/progress_event_writer.h): which batches get batch.progress, its rates and ETA on the
// clock the test passes, session.progress from reports and the batch's chunk rate, the
// suppressed count, deleted batches, and that a finished session's last report is forgotten.
#include "storage/progress_event_writer.h"

#include <gtest/gtest.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "storage/event_table.h"
#include "storage/migrations.h"

namespace batchd::storage {
namespace {

class ProgressEventWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ApplyMigrations(db_).ok());
    appender_ = std::make_unique<EventAppender>(db_);  // needs the table
  }

  // A batch row of `sessions` sessions in `state`, with these counters; returns its id.
  int64_t AddBatch(const std::string& public_id, const std::string& state, int64_t sessions,
                   SessionCounts c) {
    SQLite::Statement s(db_,
                        "INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, "
                        "shape, session_count, first_session_id, state, n_uninitialized, "
                        "n_in_progress, n_completed, n_error, n_canceled, created_at) "
                        "VALUES (?, 'test', 0, 1, 1, x'', '', ?, 1, ?, ?, ?, ?, ?, ?, 0)");
    s.bind(1, public_id);
    s.bind(2, sessions);
    s.bind(3, state);
    int i = 4;
    for (int64_t v : {c.uninitialized, c.in_progress, c.completed, c.error, c.canceled}) {
      s.bind(i++, v);
    }
    s.exec();
    return db_.getLastInsertRowid();
  }

  void SetCounts(int64_t batch_id, SessionCounts c) {
    SQLite::Statement s(db_,
                        "UPDATE batch SET n_uninitialized = ?, n_in_progress = ?, n_completed = ?, "
                        "n_error = ?, n_canceled = ? WHERE id = ?");
    int i = 1;
    for (int64_t v : {c.uninitialized, c.in_progress, c.completed, c.error, c.canceled}) {
      s.bind(i++, v);
    }
    s.bind(i, batch_id);
    s.exec();
  }

  // Writes a round and returns the progress events it appended (not the batch.deleted a
  // trigger writes).
  std::vector<EventRecord> Write(const LiveProgressCoalescer::Round& round, int64_t now_ms,
                                 std::vector<int64_t>* deleted = nullptr) {
    const int64_t before = LatestEventSeq(db_);
    std::vector<int64_t> gone = writer_.Write(db_, *appender_, round, now_ms);
    if (deleted != nullptr) *deleted = gone;
    Result<EventPage> page =
        ReadEvents(db_, {.after_seq = before,
                         .types = {EventType::kBatchProgress, EventType::kSessionProgress},
                         .limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->events : std::vector<EventRecord>{};
  }

  static LiveProgressCoalescer::Round Batches(std::vector<int64_t> ids) {
    return {.batches = std::move(ids)};
  }

  static LiveProgressCoalescer::Round Reports(std::vector<SessionLiveProgress> reports) {
    return {.reports = std::move(reports)};
  }

  SQLite::Database db_{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  std::unique_ptr<EventAppender> appender_;
  ProgressEventWriter writer_;
};

TEST_F(ProgressEventWriterTest, AMovedBatchGetsCountersRateAndEtaAndNothingWhenUnchanged) {
  const int64_t id = AddBatch("b1", "running", 10, {8, 2, 0, 0, 0});
  std::vector<EventRecord> first = Write(Batches({id}), 10'000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].type, EventType::kBatchProgress);
  EXPECT_EQ(first[0].batch_public_id, "b1");
  EXPECT_EQ(first[0].to, "running");
  EXPECT_EQ(first[0].sessions, 10u);
  EXPECT_EQ(first[0].counts, (SessionCounts{8, 2, 0, 0, 0}));
  EXPECT_FALSE(first[0].sessions_per_s) << "one sample has no rate";
  EXPECT_FALSE(first[0].eta_s);
  EXPECT_FALSE(first[0].chunks_per_s) << "no session reported chunks";
  EXPECT_EQ(first[0].suppressed_session_events, 0);

  SetCounts(id, {5, 2, 2, 1, 0});
  std::vector<EventRecord> second = Write(Batches({id}), 12'000);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(second[0].sessions_per_s);
  EXPECT_DOUBLE_EQ(*second[0].sessions_per_s, 1.5) << "3 finished in 2 s";
  ASSERT_TRUE(second[0].eta_s);
  EXPECT_DOUBLE_EQ(*second[0].eta_s, 7 / 1.5) << "7 left at 1.5/s";

  EXPECT_TRUE(Write(Batches({id}), 13'000).empty()) << "nothing new to say";
}

TEST_F(ProgressEventWriterTest, NoProgressBeforeAnythingStartedWhileEnqueuingOrOnceFinished) {
  const int64_t fresh = AddBatch("fresh", "queued", 3, {3, 0, 0, 0, 0});
  const int64_t enqueuing = AddBatch("enq", "enqueuing", 3, {2, 1, 0, 0, 0});
  const int64_t done = AddBatch("done", "completed", 3, {0, 0, 3, 0, 0});
  const int64_t paused = AddBatch("paused", "paused", 4, {2, 0, 2, 0, 0});
  std::vector<EventRecord> events = Write(Batches({fresh, enqueuing, done, paused}), 1000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].batch_public_id, "paused");
  SetCounts(paused, {1, 0, 3, 0, 0});
  events = Write(Batches({paused}), 2000);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].sessions_per_s);
  EXPECT_FALSE(events[0].eta_s) << "no ETA while paused";
}

TEST_F(ProgressEventWriterTest, ReportsBecomeSessionProgressAndGiveTheBatchAChunkRate) {
  AddBatch("b1", "running", 2, {0, 2, 0, 0, 0});
  std::vector<EventRecord> first =
      Write(Reports({{.session_id = 1,
                      .batch_public_id = "b1",
                      .chunks_done = 3,
                      .chunks_total = 10,
                      .bytes_done = 300,
                      .done_ranges = std::vector<ChunkRange>{{0, 3}}}}),
            5000);
  ASSERT_EQ(first.size(), 2u) << "the session's and then its batch's";
  EXPECT_EQ(first[0].type, EventType::kSessionProgress);
  EXPECT_EQ(first[0].session_id, 1);
  EXPECT_EQ(first[0].chunks_done, 3);
  EXPECT_EQ(first[0].chunks_total, 10);
  EXPECT_EQ(first[0].bytes_done, 300);
  EXPECT_EQ(first[0].done_ranges, (std::vector<ChunkRange>{{0, 3}}));
  EXPECT_EQ(first[1].type, EventType::kBatchProgress);
  EXPECT_FALSE(first[1].chunks_per_s) << "one sample";

  // Two sessions of the batch move on: the batch's totals grow by each one's difference.
  std::vector<EventRecord> second = Write(
      Reports({{.session_id = 1, .batch_public_id = "b1", .chunks_done = 7, .bytes_done = 700},
               {.session_id = 2, .batch_public_id = "b1", .chunks_done = 2, .bytes_done = 200}}),
      7000);
  ASSERT_EQ(second.size(), 3u);
  ASSERT_TRUE(second[2].chunks_per_s);
  EXPECT_DOUBLE_EQ(*second[2].chunks_per_s, 3.0) << "(4 + 2) chunks in 2 s";
  EXPECT_DOUBLE_EQ(*second[2].bytes_per_s, 300.0);
  EXPECT_FALSE(second[1].done_ranges) << "no map reported";
}

TEST_F(ProgressEventWriterTest, AFinishedSessionIsForgottenSoItsNextAttemptCountsFromZero) {
  AddBatch("b1", "running", 1, {0, 1, 0, 0, 0});
  Write(Reports({{.session_id = 1, .batch_public_id = "b1", .chunks_done = 5}}), 1000);
  EXPECT_EQ(writer_.RememberedSessions(), 1u);
  writer_.ForgetSession(1);  // it ended (and was retried)
  EXPECT_EQ(writer_.RememberedSessions(), 0u);
  std::vector<EventRecord> events =
      Write(Reports({{.session_id = 1, .batch_public_id = "b1", .chunks_done = 6}}), 2000);
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(events[1].chunks_per_s);
  EXPECT_DOUBLE_EQ(*events[1].chunks_per_s, 6.0)
      << "the new attempt did 6 chunks, not 1 more than the old one";
}

TEST_F(ProgressEventWriterTest, SuppressedSessionEventsAreReportedAndDeletedBatchesReturned) {
  const int64_t id = AddBatch("b1", "running", 5, {4, 1, 0, 0, 0});
  ASSERT_EQ(Write(Batches({id}), 1000).size(), 1u);
  writer_.CountSuppressed(id);
  writer_.CountSuppressed(id);
  std::vector<EventRecord> events = Write(Batches({id}), 2000);
  ASSERT_EQ(events.size(), 1u) << "the counters did not move, the suppressed count did";
  EXPECT_EQ(events[0].suppressed_session_events, 2);

  db_.exec("DELETE FROM batch WHERE id = " + std::to_string(id));
  std::vector<int64_t> deleted;
  // A report of a deleted batch is dropped too.
  LiveProgressCoalescer::Round round = Batches({id});
  round.reports.push_back({.session_id = 1, .batch_public_id = "b1", .chunks_done = 1});
  EXPECT_TRUE(Write(round, 3000, &deleted).empty());
  EXPECT_EQ(deleted, std::vector<int64_t>{id});
}

}  // namespace
}  // namespace batchd::storage
