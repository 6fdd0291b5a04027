// The live progress hook (daemon/live_progress_reporter.h): done-maps become ranges, reports
// closer than the live progress interval are dropped but never the last one (on a clock the test
// steps by hand), and what passes reaches a real store's event log as session.progress.
#include "daemon/live_progress_reporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/live_progress_interval.h"
#include "storage_test_util.h"

namespace batchd::daemon {
namespace {

using storage::ChunkRange;

// A cursor over `bits.size()` chunks with the chunks whose bit is set done.
pipeline::ChunkCursor CursorOf(const std::vector<bool>& bits) {
  pipeline::ChunkCursor cursor(static_cast<int64_t>(bits.size()));
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

// The time the reporters below read: set by the tests, never by the machine.
std::atomic<int64_t> g_now{0};
int64_t TestNow() { return g_now.load(); }

TEST(LiveProgressReporterTest, ForwardsOneReportPerIntervalAndAlwaysTheLast) {
  g_now = 10'000;
  std::vector<storage::SessionLiveProgress> sent;
  const pipeline::LiveProgressReporter report = MakeLiveProgressReporter(
      [&](storage::SessionLiveProgress p) { sent.push_back(std::move(p)); }, 7, "b-1", TestNow);
  auto chunks = [&](int64_t done) { report({.chunks_done = done, .chunks_total = 10}); };

  chunks(1);  // the first passes
  chunks(2);  // same instant: dropped
  g_now = 10'000 + kLiveProgressIntervalMs - 1;
  chunks(3);  // 1 ms short: dropped
  g_now = 10'000 + kLiveProgressIntervalMs;
  chunks(4);   // exactly one interval: passes
  chunks(10);  // the last, at the same instant: passes anyway
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].chunks_done, 1);
  EXPECT_EQ(sent[1].chunks_done, 4);
  EXPECT_EQ(sent[2].chunks_done, 10);
  for (const storage::SessionLiveProgress& p : sent) {
    EXPECT_EQ(p.session_id, 7);
    EXPECT_EQ(p.batch_public_id, "b-1");
    EXPECT_EQ(p.chunks_total, 10);
    EXPECT_FALSE(p.done_ranges) << "no map given, none sent";
  }
}

TEST(LiveProgressReporterTest, CopiesOfAReporterThrottleAsOne) {
  // The op may copy its context's reporter (SleepOp does); the copies share the interval.
  g_now = 0;
  int sent = 0;
  const pipeline::LiveProgressReporter report =
      MakeLiveProgressReporter([&](storage::SessionLiveProgress) { ++sent; }, 1, "b", TestNow);
  const pipeline::LiveProgressReporter copy = report;
  report({.chunks_done = 1, .chunks_total = 5});
  copy({.chunks_done = 2, .chunks_total = 5});
  EXPECT_EQ(sent, 1) << "the copy's report falls in the interval the first one started";
  g_now = kLiveProgressIntervalMs;
  copy({.chunks_done = 3, .chunks_total = 5});
  EXPECT_EQ(sent, 2);
}

TEST(LiveProgressReporterTest, ThrottlesButAlwaysDeliversTheLastReport) {
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

  g_now = 0;  // frozen: all 50 reports fall in one interval
  const pipeline::LiveProgressReporter report =
      MakeLiveProgressReporter(**store, 1, batch->public_id, TestNow);
  pipeline::ChunkCursor done(50);
  for (int64_t i = 0; i < 50; ++i) {
    done.MarkDone(i);
    report({.chunks_done = i + 1, .chunks_total = 50, .bytes_done = (i + 1) * 10, .done = &done});
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] {
    return !progress.empty() && progress.back().chunks_done == 50;
  })) << "the last report must arrive";
  // The first and the last of 50 reports passed; the event log may have folded them into one.
  EXPECT_LE(progress.size(), 2u);
  EXPECT_EQ(progress.back().session_id, 1);
  EXPECT_EQ(progress.back().bytes_done, 500);
  EXPECT_EQ(progress.back().done_ranges, (std::vector<ChunkRange>{{0, 50}}));
  lock.unlock();
  (*store)->Close();
}

}  // namespace
}  // namespace batchd::daemon
