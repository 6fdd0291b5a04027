// The event log as a client sees it through the Store (docs/api.md "Events"; was part of
// tests/unit/storage/event_log_test.cpp): which events a batch's life produces, that the
// listener gets exactly what the log stores, in seq order, session.state for small batches,
// requests as events and refused changes as none, replay by batch, type and seq, retention,
// and the log across a restart. The publisher's and coalescer's own behaviour (threads, a slow
// listener, rate limits, progress rates) stays with the SQLite store's unit tests.
//
// Events are readable once numbered, which on PostgreSQL follows the commit (a sequencer): the
// tests wait for what they expect, by the listener or by polling the log, never at once.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/conformance/conformance_fixture.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

// Collects what the listener is given (on the publisher's thread).
class Collector {
 public:
  EventListener Listener() {
    return [this](const std::vector<EventRecord>& events) {
      std::lock_guard lock(mu_);
      events_.insert(events_.end(), events.begin(), events.end());
      changed_.notify_all();
    };
  }

  // Waits until `done(events)` holds; false after kPollLimit (the hang guard).
  bool WaitFor(const std::function<bool(const std::vector<EventRecord>&)>& done) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kPollLimit, [&] { return done(events_); });
  }

  std::vector<EventRecord> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<EventRecord> events_;
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

class EventLogTest : public StoreConformanceTest {
 protected:
  // Opens the store with a new collector as its listener (closing the store before, so the old
  // collector is no longer called).
  void OpenWithEvents(EventLogOptions options = {}) {
    engine().Close();
    collector_ = std::make_unique<Collector>();
    ASSERT_NO_FATAL_FAILURE(Open({.events = options,
                                  .event_listener = collector_->Listener(),
                                  .clock = clock_.AsWallClock()}));
  }

  ClaimResult Claim(int n) { return StoreConformanceTest::Claim(n, clock_.Now()); }

  void Finish(const ClaimedSession& c, SessionOutcome::Target target,
              const std::string& error_kind = "", int64_t not_before = 0) {
    SessionOutcome o{.session_id = c.id, .batch_id = c.batch_id, .target = target};
    o.error_kind = error_kind;
    if (!error_kind.empty()) o.error_message = "disk on fire";
    o.not_before_ms = not_before;
    o.finished_at_ms = clock_.Now();
    Result<bool> r = Await<bool>([&](auto cb) { store().FinishSession(o, cb); });
    ASSERT_TRUE(r.ok() && *r) << r.status().ToString();
  }

  // The store's time (event times, the retention cutoff), moved by hand. It starts at the
  // system's time, as the batch.* events the database stamps itself do.
  batchd::testing::ManualClock clock_;
  std::unique_ptr<Collector> collector_;  // outlives the store: TearDown closes it first
};

TEST_P(EventLogTest, ABatchLifeIsEnqueuedStateChangesAndFinishedWithTheFinalCounters) {
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  BatchCreated b = Create(MakeBatch(3));
  ClaimResult r = Claim(3);
  ASSERT_EQ(r.sessions.size(), 3u);
  for (const ClaimedSession& c : r.sessions) Finish(c, SessionOutcome::Target::kCompleted);
  ASSERT_TRUE(
      collector_->WaitFor([](const auto& all) { return HasType(all, EventType::kBatchFinished); }));

  const std::vector<EventRecord> all = collector_->Events();
  std::vector<std::string> lifecycle;
  for (const EventRecord& e : all) {
    EXPECT_EQ(e.batch_public_id, b.public_id);
    if (e.type == EventType::kBatchEnqueued || e.type == EventType::kBatchState ||
        e.type == EventType::kBatchFinished) {
      lifecycle.push_back(std::string(EventTypeName(e.type)) + ":" + e.from + "->" + e.to);
    }
  }
  EXPECT_EQ(lifecycle, (std::vector<std::string>{
                           "batch.enqueued:enqueuing->queued", "batch.state:queued->running",
                           "batch.state:running->completed", "batch.finished:running->completed"}));
  const EventRecord finished = OfType(all, EventType::kBatchFinished).back();
  const BatchRecord stored = Batch(b.public_id);
  ASSERT_TRUE(finished.counts);
  EXPECT_EQ(*finished.counts, stored.counts);
  EXPECT_EQ(finished.sessions, 3u);
  EXPECT_EQ(finished.batch_name, "test");
  EXPECT_EQ(finished.finished_at_ms, stored.finished_at_ms);

  // The listener got exactly the stored log, in strictly increasing seq order.
  EventPage page = Read({.after_seq = 0, .limit = 1000});
  ASSERT_EQ(page.events.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(page.events[i].seq, all[i].seq);
    EXPECT_EQ(page.events[i].type, all[i].type);
    if (i > 0) {
      EXPECT_GT(all[i].seq, all[i - 1].seq);
    }
  }
  EXPECT_EQ(page.latest_seq, all.back().seq);
  EXPECT_EQ(page.oldest_seq, 1);
  EXPECT_FALSE(page.more);
}

TEST_P(EventLogTest, SmallBatchesGetEverySessionTransitionWithErrorsAndRetryTimes) {
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  Create(MakeBatch(3));
  ClaimResult r = Claim(3);
  ASSERT_EQ(r.sessions.size(), 3u);
  const int64_t retry_at = clock_.Now() + 60'000;
  Finish(r.sessions[0], SessionOutcome::Target::kCompleted);
  Finish(r.sessions[1], SessionOutcome::Target::kError, "permanent");
  Finish(r.sessions[2], SessionOutcome::Target::kRequeue, "transient", retry_at);
  ASSERT_TRUE(collector_->WaitFor(
      [](const auto& all) { return OfType(all, EventType::kSessionState).size() == 6; }));
  const auto sessions = OfType(collector_->Events(), EventType::kSessionState);
  ASSERT_EQ(sessions.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sessions[i].session_id, r.sessions[i].id);
    EXPECT_EQ(sessions[i].from, "uninitialized");
    EXPECT_EQ(sessions[i].to, "in_progress");
    EXPECT_EQ(sessions[i].attempt, 1);
  }
  EXPECT_EQ(sessions[3].to, "completed");
  EXPECT_EQ(sessions[3].error_kind, "");
  EXPECT_EQ(sessions[4].to, "error");
  EXPECT_EQ(sessions[4].error_kind, "permanent");
  EXPECT_EQ(sessions[4].error_message, "disk on fire");
  EXPECT_FALSE(sessions[4].retry_at_ms);
  EXPECT_EQ(sessions[5].from, "in_progress");
  EXPECT_EQ(sessions[5].to, "uninitialized");
  EXPECT_EQ(sessions[5].retry_at_ms, retry_at);
}

TEST_P(EventLogTest, SessionRequestsAreEventsAndRefusedChangesWriteNothing) {
  EventLogOptions options;
  options.session_events.every_transition_max_sessions = 0;  // only requests and errors
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents(options));
  BatchCreated b = Create(MakeBatch(2));
  const int64_t first = Batch(b.public_id).first_session_id;
  ASSERT_TRUE(Await<SessionRecord>([&](auto cb) { store().CancelSession(first, cb); }).ok());
  ASSERT_TRUE(
      Await<SessionRecord>([&](auto cb) { store().RetrySession(first, clock_.Now(), cb); }).ok());
  ASSERT_TRUE(collector_->WaitFor(
      [](const auto& all) { return OfType(all, EventType::kSessionState).size() == 2; }));
  const auto sessions = OfType(collector_->Events(), EventType::kSessionState);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].from + "->" + sessions[0].to, "uninitialized->canceled");
  EXPECT_EQ(sessions[1].from + "->" + sessions[1].to, "canceled->uninitialized");

  const int64_t latest = Read({}).latest_seq;
  // Refused changes (409, 404) roll back their transaction: no event. (batch.progress may
  // still report the earlier cancel and retry meanwhile.)
  EXPECT_EQ(
      Await<SessionRecord>([&](auto cb) { store().RetrySession(first + 1, clock_.Now(), cb); })
          .status()
          .code(),
      StatusCode::kConflict);
  EXPECT_EQ(Await<uint64_t>([&](auto cb) { store().DeleteBatch(b.public_id, cb); }).status().code(),
            StatusCode::kConflict);
  EXPECT_EQ(Await<BatchRecord>([&](auto cb) { store().CancelBatch("nope", cb); }).status().code(),
            StatusCode::kNotFound);
  for (const EventRecord& e : Read({.after_seq = latest}).events) {
    EXPECT_EQ(e.type, EventType::kBatchProgress) << EventTypeName(e.type);
  }
}

TEST_P(EventLogTest, DeletingAFinishedBatchIsAnEvent) {
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  BatchCreated b = Create(MakeBatch(2));
  ASSERT_TRUE(Await<BatchRecord>([&](auto cb) { store().CancelBatch(b.public_id, cb); }).ok());
  ASSERT_TRUE(Await<uint64_t>([&](auto cb) { store().DeleteBatch(b.public_id, cb); }).ok());
  ASSERT_TRUE(
      collector_->WaitFor([](const auto& all) { return HasType(all, EventType::kBatchDeleted); }));
  const EventRecord deleted = OfType(collector_->Events(), EventType::kBatchDeleted).back();
  EXPECT_EQ(deleted.batch_public_id, b.public_id);
  EXPECT_EQ(deleted.from, "canceled");
  ASSERT_TRUE(deleted.counts);
  EXPECT_EQ(deleted.counts->canceled, 2);
}

TEST_P(EventLogTest, ReplayFiltersByBatchAndTypeAndPagesOldestFirst) {
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  BatchCreated a = Create(MakeBatch(1));
  BatchCreated b = Create(MakeBatch(1));
  BatchCreated c = Create(MakeBatch(1));
  ASSERT_TRUE(collector_->WaitFor(
      [](const auto& all) { return OfType(all, EventType::kBatchEnqueued).size() == 3; }));
  EventPage only_b = Read({.batch_public_id = b.public_id});
  ASSERT_EQ(only_b.events.size(), 1u) << "nothing started, so no batch.progress";
  EXPECT_EQ(only_b.events[0].batch_public_id, b.public_id);
  EXPECT_EQ(only_b.events[0].type, EventType::kBatchEnqueued);

  EventPage first = Read({.types = {EventType::kBatchEnqueued}, .limit = 2});
  ASSERT_EQ(first.events.size(), 2u);
  EXPECT_TRUE(first.more);
  EXPECT_EQ(first.events[0].batch_public_id, a.public_id);
  EventPage rest =
      Read({.after_seq = first.events[1].seq, .types = {EventType::kBatchEnqueued}, .limit = 2});
  ASSERT_EQ(rest.events.size(), 1u);
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(rest.events[0].batch_public_id, c.public_id);

  EventPage tail = Read({.types = {EventType::kBatchEnqueued}, .limit = 2, .tail = true});
  ASSERT_EQ(tail.events.size(), 2u);
  EXPECT_EQ(tail.events[0].batch_public_id, b.public_id) << "the newest two, oldest first";
  EXPECT_EQ(tail.events[1].batch_public_id, c.public_id);
}

TEST_P(EventLogTest, RetentionDropsTheOldestAndSeqsAreNeverReused) {
  EventLogOptions options;
  options.retention_events = 2;
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents(options));
  for (int i = 0; i < 5; ++i) Create(MakeBatch(1));
  // The five batch.enqueued events are in the log once the listener has had them.
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return all.size() >= 5; }));
  const int64_t latest = Read({}).latest_seq;
  ASSERT_EQ(latest, 5);
  Result<int64_t> trimmed = Await<int64_t>([&](auto cb) { store().TrimEvents(cb); });
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  EXPECT_EQ(*trimmed, 3);
  EventPage page = Read({});
  EXPECT_EQ(page.oldest_seq, 4) << "a client at seq < 3 must resync";
  EXPECT_EQ(page.latest_seq, 5);
  ASSERT_EQ(page.events.size(), 2u);
  EXPECT_EQ(page.events[0].seq, 4);

  // Age retention goes by the store's clock: nothing is an hour old until the clock has moved
  // an hour past it. Then the log empties, and the next event still gets a new seq.
  options.retention_age = std::chrono::hours(1);
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents(options));
  Result<int64_t> young = Await<int64_t>([&](auto cb) { store().TrimEvents(cb); });
  ASSERT_TRUE(young.ok()) << young.status().ToString();
  EXPECT_EQ(*young, 0) << "nothing is older than an hour yet";
  EXPECT_EQ(Read({}).events.size(), 2u);
  clock_.Advance(std::chrono::hours(2));
  Result<int64_t> old = Await<int64_t>([&](auto cb) { store().TrimEvents(cb); });
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(*old, 2);
  EventPage empty = Read({});
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.latest_seq, 5);
  EXPECT_EQ(empty.oldest_seq, 6);
  Create(MakeBatch(1));
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return !all.empty(); }));
  EXPECT_EQ(collector_->Events().front().seq, 6);
}

TEST_P(EventLogTest, EventsSurviveARestartAndAreNotPublishedAgain) {
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  Create(MakeBatch(1));
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return all.size() == 1; }));
  ASSERT_NO_FATAL_FAILURE(OpenWithEvents());
  EXPECT_EQ(Read({}).events.size(), 1u);
  Create(MakeBatch(1));
  ASSERT_TRUE(collector_->WaitFor([](const auto& all) { return !all.empty(); }));
  const auto after = collector_->Events();
  ASSERT_EQ(after.size(), 1u) << "the new listener hears only new events";
  EXPECT_EQ(after[0].seq, 2);
}

BATCHD_FOR_EVERY_STORE(EventLogTest);

}  // namespace
}  // namespace batchd::storage::conformance
