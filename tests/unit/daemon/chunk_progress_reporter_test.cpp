// The chunk-progress hook (daemon/chunk_progress_reporter.h): done-maps become ranges, reports
// closer than the event interval are dropped but never the last one, and what passes reaches a
// real store's event log as session.progress.
#include "daemon/chunk_progress_reporter.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "core/clock.h"
#include "storage_test_util.h"

namespace batchd::daemon {
namespace {

using storage::ChunkRange;

// A cursor over `bits.size()` chunks with the chunks whose bit is set done.
pipeline::ProgressCursor CursorOf(const std::vector<bool>& bits) {
  pipeline::ProgressCursor cursor(static_cast<int64_t>(bits.size()));
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) cursor.MarkDone(static_cast<int64_t>(i));
  }
  return cursor;
}

TEST(DoneRangesTest, RunsOfDoneChunksBecomeRanges) {
  EXPECT_EQ(DoneRanges(CursorOf({})), std::vector<ChunkRange>{});
  EXPECT_EQ(DoneRanges(CursorOf({false, false})), std::vector<ChunkRange>{});
  EXPECT_EQ(DoneRanges(CursorOf({true, true, true})), (std::vector<ChunkRange>{{0, 3}}));
  EXPECT_EQ(DoneRanges(CursorOf({true, false, true, true, false, true})),
            (std::vector<ChunkRange>{{0, 1}, {2, 4}, {5, 6}}));
  std::vector<bool> scattered(20);
  for (size_t i = 0; i < scattered.size(); i += 2) scattered[i] = true;  // 10 ranges
  EXPECT_TRUE(DoneRanges(CursorOf(scattered), 10));
  EXPECT_FALSE(DoneRanges(CursorOf(scattered), 9)) << "too scattered: counts only";
  std::vector<bool> long_run(300, true);  // whole 64-bit words at once
  long_run[130] = false;
  EXPECT_EQ(DoneRanges(CursorOf(long_run)), (std::vector<ChunkRange>{{0, 130}, {131, 300}}));
}

TEST(ChunkProgressReporterTest, ThrottlesButAlwaysDeliversTheLastReport) {
  storage::testing::TempDir dir;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<storage::EventRecord> progress;
  storage::SqliteStoreOptions options{.db_path = dir.path() / "batchd.db"};
  options.events.progress_interval = std::chrono::milliseconds(1);
  options.event_listener = [&](const std::vector<storage::EventRecord>& events) {
    std::lock_guard lock(mu);
    for (const auto& e : events) {
      if (e.type == storage::EventType::kSessionProgress) progress.push_back(e);
    }
    changed.notify_all();
  };
  Result<std::unique_ptr<storage::Store>> store = storage::OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<storage::BatchCreated> batch = storage::testing::Await<storage::BatchCreated>(
      [&](auto cb) { (*store)->CreateBatch(storage::testing::MakeBatch(1), cb); });
  ASSERT_TRUE(batch.ok());

  const pipeline::ProgressReporter report = ChunkProgressReporter(**store, 1, batch->public_id);
  pipeline::ProgressCursor done(50);
  for (int64_t i = 0; i < 50; ++i) {  // far quicker than 100 ms
    done.MarkDone(i);
    report({.chunks_done = i + 1, .chunks_total = 50, .bytes_done = (i + 1) * 10, .done = &done});
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] {
    return !progress.empty() && progress.back().chunks_done == 50;
  })) << "the last report must arrive";
  EXPECT_LE(progress.size(), 2u) << "the first and the last of 50 reports, at most";
  EXPECT_EQ(progress.back().session_id, 1);
  EXPECT_EQ(progress.back().bytes_done, 500);
  EXPECT_EQ(progress.back().done_ranges, (std::vector<ChunkRange>{{0, 50}}));
  lock.unlock();
  (*store)->Close();
}

}  // namespace
}  // namespace batchd::daemon
