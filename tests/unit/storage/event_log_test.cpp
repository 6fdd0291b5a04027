// The SQLite store's event publishing behind the Store (storage/event_log.h,
// storage/event_publisher.h): the listener off the writer thread and when it falls behind,
// coalescing, the session-event policy and its rate limit, progress rates and live progress.
// The events a client sees through ReadEvents and the listener (a batch's life, session.state,
// requests, replay, retention, restarts) are tested on every engine by the Store conformance
// suite (tests/conformance/event_log_test.cpp).
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "storage/store.h"
#include "storage_test_util.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage {
namespace {

using std::chrono::milliseconds;
using testing::Await;
using testing::MakeBatch;
using testing::TempDir;

// Collects what the listener is given (on the publisher's thread). Hold() makes the listener
// wait until Release(), as a slow subscriber would.
class Collector {
 public:
  EventListener Listener() {
    return [this](const std::vector<EventRecord>& events) {
      std::unique_lock lock(mu_);
      ++calls_;
      threads_.insert(std::this_thread::get_id());
      changed_.notify_all();
      changed_.wait_for(lock, milliseconds(30'000), [&] { return !held_; });
      events_.insert(events_.end(), events.begin(), events.end());
      changed_.notify_all();
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
  // Waits (bounded) until the listener was entered `n` times (it may be held there).
  bool WaitForCalls(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, milliseconds(10'000), [&] { return calls_ >= n; });
  }
  std::set<std::thread::id> Threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

  // Waits (bounded) until `done(events)` holds; false after the timeout.
  bool WaitFor(const std::function<bool(const std::vector<EventRecord>&)>& done,
               milliseconds timeout = milliseconds(10'000)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return done(events_); });
  }

  std::vector<EventRecord> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<EventRecord> events_;
  bool held_ = false;
  int calls_ = 0;
  std::set<std::thread::id> threads_;
};

std::vector<EventRecord> OfType(const std::vector<EventRecord>& all, EventType type) {
  std::vector<EventRecord> out;
  for (const EventRecord& e : all) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

bool HasType(const std::vector<EventRecord>& all, EventType type) {
  return !OfType(all, type).empty();
}

class EventLogTest : public ::testing::Test {
 protected:
  void Open(EventLogOptions options = {}) {
    store_.reset();
    collector_ = std::make_unique<Collector>();
    SqliteStoreOptions o{.db_path = dir_.path() / "batchd.db"};
    o.events = options;
    o.event_listener = collector_->Listener();
    o.clock = clock_.AsWallClock();
    Result<std::unique_ptr<Store>> s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  BatchCreated Create(NewBatch b) {
    Result<BatchCreated> r =
        Await<BatchCreated>([&](auto cb) { store_->CreateBatch(std::move(b), cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BatchCreated{};
  }

  ClaimResult Claim(int n) {
    Result<ClaimResult> r =
        Await<ClaimResult>([&](auto cb) { store_->ClaimSessions(n, clock_.Now(), cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ClaimResult{};
  }

  void Finish(const ClaimedSession& c, SessionOutcome::Target target,
              const std::string& error_kind = "", int64_t not_before = 0) {
    SessionOutcome o{.session_id = c.id, .batch_id = c.batch_id, .target = target};
    o.error_kind = error_kind;
    if (!error_kind.empty()) o.error_message = "disk on fire";
    o.not_before_ms = not_before;
    o.finished_at_ms = clock_.Now();
    Result<bool> r = Await<bool>([&](auto cb) { store_->FinishSession(o, cb); });
    ASSERT_TRUE(r.ok() && *r) << r.status().ToString();
  }

  BatchRecord Batch(const std::string& id) {
    Result<BatchRecord> r = Await<BatchRecord>([&](auto cb) { store_->GetBatch(id, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BatchRecord{};
  }

  EventPage Read(EventQuery q) {
    Result<EventPage> r = Await<EventPage>([&](auto cb) { store_->ReadEvents(q, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : EventPage{};
  }

  TempDir dir_;
  // The store's time (event times, rates, the retention cutoff), moved by hand. It starts at the
  // system's time, as the batch.* events SQLite stamps itself do.
  batchd::testing::ManualClock clock_;  // before store_: the store reads it until it closes
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<Store> store_;
};

TEST_F(EventLogTest, LargeBatchesOnlyReportErrorsAndTheRateLimitCountsTheRest) {
  EventLogOptions options;
  options.session_events = {.every_transition_max_sessions = 2, .max_per_second = 2};
  options.progress_interval = milliseconds(1);
  ASSERT_NO_FATAL_FAILURE(Open(options));
  BatchCreated b = Create(MakeBatch(9));
  ClaimResult r = Claim(9);
  ASSERT_EQ(r.sessions.size(), 9u);
  Finish(r.sessions[0], SessionOutcome::Target::kCompleted);
  Finish(r.sessions[1], SessionOutcome::Target::kCanceled, "canceled");
  for (size_t i = 2; i < 8; ++i) Finish(r.sessions[i], SessionOutcome::Target::kError, "permanent");
  // The last session stays in progress: batch.progress reports while a batch runs.

  // Six errors at one instant of the store's clock against a bucket of two: two are written,
  // and batch.progress accounts for the four that were not.
  ASSERT_TRUE(collector_->WaitFor([&](const auto& all) {
    for (const EventRecord& e : OfType(all, EventType::kBatchProgress)) {
      if (e.suppressed_session_events == 4) return true;
    }
    return false;
  })) << "no batch.progress reported the suppressed count";
  const auto sessions = OfType(collector_->Events(), EventType::kSessionState);
  EXPECT_EQ(sessions.size(), 2u);
  for (const EventRecord& e : sessions) {
    EXPECT_EQ(e.to, "error") << "completions and cancels of a large batch are not events";
    EXPECT_EQ(e.batch_public_id, b.public_id);
  }

  // A second later by the clock the bucket holds two again: the last error is written.
  clock_.Advance(milliseconds(1000));
  Finish(r.sessions[8], SessionOutcome::Target::kError, "permanent");
  EXPECT_TRUE(collector_->WaitFor(
      [](const auto& all) { return OfType(all, EventType::kSessionState).size() == 3; }));
}

TEST_F(EventLogTest, ProgressIsCoalescedToOneEventPerBatchPerInterval) {
  EventLogOptions options;
  options.progress_interval = std::chrono::hours(1);  // one tick during the whole test
  options.session_events.every_transition_max_sessions = 0;
  ASSERT_NO_FATAL_FAILURE(Open(options));
  Create(MakeBatch(50));
  ClaimResult r = Claim(50);
  for (const ClaimedSession& c : r.sessions) Finish(c, SessionOutcome::Target::kCompleted);
  ASSERT_TRUE(
      collector_->WaitFor([](const auto& all) { return HasType(all, EventType::kBatchFinished); }));
  // 51 separate counter changes, but only the first progress tick has happened.
  EXPECT_LE(OfType(collector_->Events(), EventType::kBatchProgress).size(), 1u);
}

TEST_F(EventLogTest, ProgressCarriesCountersRateAndEta) {
  EventLogOptions options;
  options.progress_interval = milliseconds(1);
  ASSERT_NO_FATAL_FAILURE(Open(options));
  BatchCreated b = Create(MakeBatch(20));
  ClaimResult r = Claim(20);
  // One completion per second of the store's clock, each written as batch.progress before the
  // clock moves on.
  for (int64_t i = 0; i < 10; ++i) {
    Finish(r.sessions[static_cast<size_t>(i)], SessionOutcome::Target::kCompleted);
    ASSERT_TRUE(collector_->WaitFor([i](const auto& all) {
      for (const EventRecord& e : OfType(all, EventType::kBatchProgress)) {
        if (e.counts && e.counts->completed == i + 1) return true;
      }
      return false;
    })) << "no batch.progress with "
        << i + 1 << " completed";
    if (i < 9) clock_.Advance(milliseconds(1000));
  }
  const EventRecord last = OfType(collector_->Events(), EventType::kBatchProgress).back();
  EXPECT_EQ(last.batch_public_id, b.public_id);
  EXPECT_EQ(last.to, "running");
  EXPECT_EQ(last.sessions, 20u);
  EXPECT_EQ(last.counts->in_progress, 10);
  ASSERT_TRUE(last.sessions_per_s);
  EXPECT_DOUBLE_EQ(*last.sessions_per_s, 1.0) << "5 finished in the last 5 s of the window";
  ASSERT_TRUE(last.eta_s);
  EXPECT_DOUBLE_EQ(*last.eta_s, 10.0) << "10 left at 1/s";
  EXPECT_FALSE(last.chunks_per_s) << "no session reported chunks";
}

TEST_F(EventLogTest, ReportedLiveProgressBecomesSessionProgressAndBatchChunkRate) {
  EventLogOptions options;
  options.progress_interval = milliseconds(1);
  ASSERT_NO_FATAL_FAILURE(Open(options));
  BatchCreated b = Create(MakeBatch(1));
  ClaimResult r = Claim(1);
  store_->ReportLiveProgress({.session_id = r.sessions[0].id,
                              .batch_public_id = b.public_id,
                              .chunks_done = 3,
                              .chunks_total = 10,
                              .bytes_done = 300,
                              .done_ranges = std::vector<ChunkRange>{{0, 2}, {5, 6}}});
  ASSERT_TRUE(collector_->WaitFor(
      [](const auto& all) { return HasType(all, EventType::kSessionProgress); }));
  clock_.Advance(milliseconds(1000));
  store_->ReportLiveProgress({.session_id = r.sessions[0].id,
                              .batch_public_id = b.public_id,
                              .chunks_done = 7,
                              .chunks_total = 10,
                              .bytes_done = 700});
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) {
    for (const EventRecord& e : OfType(all, EventType::kBatchProgress)) {
      if (e.chunks_per_s && *e.chunks_per_s > 0) return true;
    }
    return false;
  })) << "two reports apart in time give the batch a chunk rate";
  const EventRecord rated = OfType(collector_->Events(), EventType::kBatchProgress).back();
  ASSERT_TRUE(rated.chunks_per_s && rated.bytes_per_s);
  EXPECT_DOUBLE_EQ(*rated.chunks_per_s, 4.0) << "3 -> 7 chunks in one second of the clock";
  EXPECT_DOUBLE_EQ(*rated.bytes_per_s, 400.0);
  const auto progress = OfType(collector_->Events(), EventType::kSessionProgress);
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[0].session_id, r.sessions[0].id);
  EXPECT_EQ(progress[0].chunks_done, 3);
  EXPECT_EQ(progress[0].chunks_total, 10);
  EXPECT_EQ(progress[0].bytes_done, 300);
  ASSERT_TRUE(progress[0].done_ranges);
  EXPECT_EQ(*progress[0].done_ranges, (std::vector<ChunkRange>{{0, 2}, {5, 6}}));
  EXPECT_FALSE(progress[1].done_ranges) << "no map reported";
  EXPECT_EQ(progress[1].chunks_done, 7);
}

TEST_F(EventLogTest, TheListenerRunsOffTheWriterThread) {
  ASSERT_NO_FATAL_FAILURE(Open());
  std::promise<std::thread::id> writer_thread;
  store_->CreateBatch(MakeBatch(1), [&](Result<BatchCreated> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    writer_thread.set_value(std::this_thread::get_id());  // completions run on the writer
  });
  const std::thread::id writer = writer_thread.get_future().get();
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return !all.empty(); }));
  const std::set<std::thread::id> threads = collector_->Threads();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), writer) << "rendering and fan-out must not hold up the writer";
}

// A listener far behind (held here) costs no more than the publisher's bound: the events past
// it are read back from the log, arrive once each and in order, and retention keeps them until
// then.
TEST_F(EventLogTest, ASlowListenerGetsEveryEventOnceInOrderAndRetentionWaitsForIt) {
  EventLogOptions options;
  options.publisher_queue_events = 1;
  options.retention_events = 1;
  ASSERT_NO_FATAL_FAILURE(Open(options));
  collector_->Hold();
  Create(MakeBatch(1));  // seq 1: the listener takes it and is held
  ASSERT_TRUE(collector_->WaitForCalls(1));
  for (int i = 0; i < 4; ++i) Create(MakeBatch(1));  // seq 2 waits in memory, 3..5 by range
  ASSERT_EQ(Read({}).latest_seq, 5);

  Result<int64_t> trimmed = Await<int64_t>([&](auto cb) { store_->TrimEvents(cb); });
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  EXPECT_EQ(*trimmed, 2) << "1 and 2 are in the publisher's hands; 3..5 are still to be read";
  EXPECT_EQ(Read({}).oldest_seq, 3);

  collector_->Release();
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return all.size() >= 5; }));
  std::vector<int64_t> seqs;
  for (const EventRecord& e : collector_->Events()) {
    seqs.push_back(e.seq);
    EXPECT_EQ(e.type, EventType::kBatchEnqueued);
  }
  EXPECT_EQ(seqs, (std::vector<int64_t>{1, 2, 3, 4, 5})) << "no gap, no duplicate";

  // Delivered now: retention may take them.
  ASSERT_TRUE(Await<int64_t>([&](auto cb) { store_->TrimEvents(cb); }).ok());
  EXPECT_EQ(Read({}).oldest_seq, 5);
}

}  // namespace
}  // namespace batchd::storage
