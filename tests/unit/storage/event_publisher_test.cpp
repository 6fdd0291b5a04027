// The event publisher on its own (storage/event_publisher.h): every event handed in reaches the
// listener once, in seq order, on the publisher's thread; Stop delivers what is queued first;
// past its bound it reads events back from a real log; failed reads and a throwing listener do
// not stop it. The listener is held by a latch, never timed: nothing here depends on speed.
#include "storage/event_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "storage/event_table.h"
#include "storage/migrations.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using std::chrono::milliseconds;

// Hard guard against a hang; never reached when the code works.
constexpr auto kGuard = std::chrono::seconds(30);

EventRecord Event(int64_t seq, const std::string& batch = "memory") {
  return {.seq = seq, .type = EventType::kBatchState, .batch_public_id = batch};
}

std::vector<EventRecord> Events(std::initializer_list<int64_t> seqs) {
  std::vector<EventRecord> out;
  for (int64_t s : seqs) out.push_back(Event(s));
  return out;
}

// Records what the listener gets; Hold() makes the listener wait until Release().
class Recorder {
 public:
  EventListener Listener() {
    return [this](const std::vector<EventRecord>& events) {
      std::unique_lock lock(mu_);
      ++calls_;
      threads_.insert(std::this_thread::get_id());
      changed_.notify_all();
      changed_.wait_for(lock, kGuard, [&] { return !held_; });
      received_.insert(received_.end(), events.begin(), events.end());
    };
  }
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    changed_.notify_all();
  }
  // Waits until the listener has been entered `n` times (it may be holding there).
  bool WaitForCalls(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kGuard, [&] { return calls_ >= n; });
  }
  std::vector<int64_t> Seqs() {
    std::lock_guard lock(mu_);
    std::vector<int64_t> out;
    for (const EventRecord& e : received_) out.push_back(e.seq);
    return out;
  }
  std::vector<std::string> Batches() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const EventRecord& e : received_) out.push_back(e.batch_public_id);
    return out;
  }
  std::set<std::thread::id> Threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false;
  int calls_ = 0;
  std::set<std::thread::id> threads_;
  std::vector<EventRecord> received_;
};

// A real event log in a SQLite file holding events 1..n (their batch is "log"), read on a
// connection of its own as the store's reader does. Counts the reads.
class StoredLog {
 public:
  explicit StoredLog(int n) {
    const auto path = dir_.path() / "events.db";
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    EXPECT_TRUE(ApplyMigrations(db).ok());
    EventAppender append(db);
    for (int i = 1; i <= n; ++i) {
      append.Append({.time_ms = i, .type = EventType::kBatchState, .batch_public_id = "log"});
    }
    reader_ = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READONLY);
  }
  EventLogReader Reader() {
    return [this](const EventQuery& q) -> Result<EventPage> {
      ++reads_;
      return ReadEvents(*reader_, q);
    };
  }
  int reads() const { return reads_; }

 private:
  testing::TempDir dir_;
  std::unique_ptr<SQLite::Database> reader_;
  std::atomic<int> reads_{0};
};

TEST(EventPublisherTest, DeliversEveryEventOnceInSeqOrderOnItsOwnThread) {
  Recorder recorder;
  EventPublisher publisher(recorder.Listener(), nullptr, {});
  publisher.Publish(Events({1, 2}));
  publisher.Publish({});  // nothing: not a call
  publisher.Publish(Events({3}));
  publisher.Publish(Events({4, 5}));
  publisher.Stop();
  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  const std::set<std::thread::id> threads = recorder.Threads();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id()) << "not the caller's (writer's) thread";
  EXPECT_EQ(publisher.OldestUnread(), INT64_MAX) << "it never needed the log";
}

TEST(EventPublisherTest, StopDeliversEverythingQueuedAndLaterEventsAreIgnored) {
  Recorder recorder;
  EventPublisher publisher(recorder.Listener(), nullptr, {});
  recorder.Hold();
  publisher.Publish(Events({1}));
  ASSERT_TRUE(recorder.WaitForCalls(1));  // the listener holds event 1; 2 and 3 must queue
  publisher.Publish(Events({2}));
  publisher.Publish(Events({3}));
  std::thread stopper([&] { publisher.Stop(); });
  recorder.Release();
  stopper.join();
  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2, 3})) << "Stop drained the queue";
  publisher.Publish(Events({4}));
  publisher.PublishRange(5, 6);
  publisher.Stop();  // idempotent
  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2, 3})) << "nothing after Stop";
}

TEST(EventPublisherTest, PastItsBoundItKeepsOnlyTheRangeAndReadsTheEventsFromTheLog) {
  StoredLog log(8);
  Recorder recorder;
  EventPublisher publisher(recorder.Listener(), log.Reader(),
                           {.max_queued_events = 2, .read_page = 2});
  recorder.Hold();
  publisher.Publish(Events({1}));
  ASSERT_TRUE(recorder.WaitForCalls(1));
  publisher.Publish(Events({2, 3}));  // exactly the bound: kept
  EXPECT_TRUE(publisher.Full());
  EXPECT_EQ(publisher.OldestUnread(), INT64_MAX);
  publisher.Publish(Events({4}));  // over it: only the range is kept
  EXPECT_EQ(publisher.OldestUnread(), 4) << "retention must keep 4 and after";
  publisher.Publish(Events({5, 6}));
  publisher.PublishRange(7, 8);
  recorder.Release();
  publisher.Stop();

  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(recorder.Batches(), (std::vector<std::string>{"memory", "memory", "memory", "log",
                                                          "log", "log", "log", "log"}))
      << "4..8 came from the log";
  EXPECT_EQ(log.reads(), 3) << "two events a page: 4-5, 6-7, 8";
  EXPECT_EQ(publisher.OldestUnread(), INT64_MAX);
}

TEST(EventPublisherTest, EventsAfterARangeWaitForIt) {
  StoredLog log(4);
  Recorder recorder;
  EventPublisher publisher(recorder.Listener(), log.Reader(), {.max_queued_events = 2});
  recorder.Hold();
  publisher.Publish(Events({1}));
  ASSERT_TRUE(recorder.WaitForCalls(1));
  publisher.PublishRange(2, 3);    // announced, not read by the caller
  publisher.Publish(Events({4}));  // room: kept, delivered after the range
  publisher.PublishRange(5, 4);    // an empty range is nothing
  recorder.Release();
  publisher.Stop();
  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(recorder.Batches(), (std::vector<std::string>{"memory", "log", "log", "memory"}))
      << "the log's row 4 is not read: 4 was handed in";
}

TEST(EventPublisherTest, AFailedReadIsTriedAgainAndAnUnreadableRangeDoesNotStopTheRest) {
  StoredLog log(3);
  int failures_left = 1;
  EventLogReader flaky = [&, read = log.Reader()](const EventQuery& q) -> Result<EventPage> {
    if (failures_left > 0) {
      --failures_left;
      return Status::IoError("disk I/O error");
    }
    return read(q);
  };
  {
    Recorder recorder;
    EventPublisher publisher(recorder.Listener(), flaky,
                             {.max_queued_events = 0, .read_retry_wait = milliseconds(0)});
    publisher.Publish(Events({1, 2}));  // a bound of 0 keeps nothing: read back
    publisher.Stop();
    EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 2})) << "the second try read them";
    EXPECT_EQ(failures_left, 0);
  }
  Recorder recorder;
  EventPublisher publisher(
      recorder.Listener(),
      [](const EventQuery&) -> Result<EventPage> { return Status::IoError("disk I/O error"); },
      {.max_queued_events = 1, .read_retry_wait = milliseconds(0)});
  recorder.Hold();
  publisher.Publish(Events({1}));
  ASSERT_TRUE(recorder.WaitForCalls(1));
  publisher.Publish(Events({2, 3}));  // over the bound, and the log cannot be read
  publisher.Publish(Events({4}));
  recorder.Release();
  publisher.Stop();
  EXPECT_EQ(recorder.Seqs(), (std::vector<int64_t>{1, 4})) << "2 and 3 skipped, 4 delivered";
}

TEST(EventPublisherTest, AListenerThatThrowsDoesNotStopThePublisher) {
  std::vector<int64_t> seen;
  EventPublisher publisher(
      [&](const std::vector<EventRecord>& events) {
        for (const EventRecord& e : events) seen.push_back(e.seq);
        if (events.front().seq == 1) throw std::runtime_error("invalid UTF-8");
      },
      nullptr, {});
  publisher.Publish(Events({1}));
  publisher.Publish(Events({2}));
  publisher.Stop();
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace batchd::storage
