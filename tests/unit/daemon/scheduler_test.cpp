// The scheduler in-process against a real SQLite store: execution state exists only for
// sessions that were dequeued, and it holds exactly the session's substituted values.
#include "daemon/scheduler.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/batch_expansion.h"
#include "core/batch_spec.h"
#include "storage_test_util.h"
#include "tests/support/manual_clock.h"

namespace batchd::daemon {
namespace {

using storage::testing::Await;
using storage::testing::ExpectCountersEqualRows;
using storage::testing::TempDir;

storage::NewBatch FromSpec(const std::string& json) {
  Result<BatchSpec> spec = ParseBatchSpec(json, {});
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  const BatchShape shape = BatchShape::Of(*spec);
  storage::NewBatch b;
  b.spec_json = BatchSpecToJson(*spec).dump();
  b.group_lengths = shape.group_lengths;
  b.session_count = *shape.SessionCount();
  b.runs = spec->runs;
  return b;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::Store>> s = storage::OpenSqliteStore(
        {.db_path = dir_.path() / "batchd.db", .clock = clock_.AsWallClock()});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    pipeline::RegisterBuiltinOps(ops_, timers_);
  }

  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    store_->Close();
  }

  std::string Create(const std::string& spec_json) {
    Result<storage::BatchCreated> r = Await<storage::BatchCreated>(
        [&](auto cb) { store_->CreateBatch(FromSpec(spec_json), cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->public_id : "";
  }

  storage::BatchRecord Batch(const std::string& id) {
    Result<storage::BatchRecord> r =
        Await<storage::BatchRecord>([&](auto cb) { store_->GetBatch(id, cb); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : storage::BatchRecord{};
  }

  // Polls (bounded) until the batch reaches a finished state.
  storage::BatchRecord WaitFinished(const std::string& id) {
    for (int i = 0; i < 2000; ++i) {
      storage::BatchRecord b = Batch(id);
      if (b.state == storage::BatchState::kCompleted || b.state == storage::BatchState::kFailed ||
          b.state == storage::BatchState::kCanceled) {
        return b;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "batch " << id << " did not finish";
    return Batch(id);
  }

  int64_t StateRows(const storage::BatchRecord& b) {
    SQLite::Database db((dir_.path() / "batchd.db").string(), SQLite::OPEN_READONLY);
    SQLite::Statement s(db,
                        "SELECT COUNT(*) FROM session_state WHERE session_id >= ? AND "
                        "session_id < ?");
    s.bind(1, b.first_session_id);
    s.bind(2, b.first_session_id + static_cast<int64_t>(b.session_count));
    s.executeStep();
    return s.getColumn(0).getInt64();
  }

  // Polls (bounded) until `done()`; false if it never held.
  template <typename Done>
  static bool WaitUntil(Done done) {
    for (int i = 0; i < 2000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  // A column of a session's row (session or session_state), nullopt while it is NULL.
  std::optional<int64_t> SessionColumn(const std::string& sql, int64_t session_id) {
    SQLite::Database db((dir_.path() / "batchd.db").string(), SQLite::OPEN_READONLY);
    SQLite::Statement s(db, sql);
    s.bind(1, session_id);
    if (!s.executeStep() || s.getColumn(0).isNull()) return std::nullopt;
    return s.getColumn(0).getInt64();
  }

  TempDir dir_;
  batchd::testing::ManualClock clock_;  // before store_: the store reads it until it closes
  std::unique_ptr<storage::Store> store_;
  pipeline::TimerService timers_;
  pipeline::OpRegistry ops_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, OnlyDequeuedSessionsGetExecutionStateWithTheirSubstitutedValues) {
  const std::string never =
      Create(R"({"template":{"op":"noop","x":0},"data":[[{"field":"/x","items":[1,2,3]}]]})");
  Await<storage::BatchRecord>([&](auto cb) { store_->SetBatchPaused(never, true, cb); });
  // Two groups: a zipped pair (url, level) of 2 items, then 3 tags: 6 sessions.
  const std::string ran = Create(
      R"({"template":{"op":"noop","src":{"url":""},"level":0,"tag":""},
          "data":[[{"field":"/src/url","items":["a","b"]},{"field":"/level","items":[500,850]}],
                  [{"field":"/tag","items":["p","q","r"]}]]})");

  scheduler_ = std::make_unique<Scheduler>(*store_, ops_, SchedulerOptions{.slots = 2});
  scheduler_->Start();
  const storage::BatchRecord done = WaitFinished(ran);
  ASSERT_EQ(done.state, storage::BatchState::kCompleted);
  ASSERT_EQ(done.counts.completed, 6);

  const storage::BatchRecord untouched = Batch(never);
  EXPECT_EQ(untouched.counts.uninitialized, 3);
  EXPECT_EQ(StateRows(untouched), 0) << "a session never dequeued has no execution state";
  for (int64_t i = 0; i < 3; ++i) {
    Result<storage::SessionDetail> d = Await<storage::SessionDetail>(
        [&](auto cb) { store_->GetSession(untouched.first_session_id + i, cb); });
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->execution);
  }

  EXPECT_EQ(StateRows(done), 6);
  const char* urls[] = {"a", "b"};
  const int levels[] = {500, 850};
  const char* tags[] = {"p", "q", "r"};
  for (int64_t ordinal = 0; ordinal < 6; ++ordinal) {
    Result<storage::SessionDetail> d = Await<storage::SessionDetail>(
        [&](auto cb) { store_->GetSession(done.first_session_id + ordinal, cb); });
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(d->execution) << "ordinal " << ordinal;
    const nlohmann::json state = nlohmann::json::parse(d->execution->state_json);
    const nlohmann::json& job = state["job"];
    // ordinal = i0 * 3 + i1: the zipped pair varies slowest, the tags fastest.
    EXPECT_EQ(job["src"]["url"], urls[ordinal / 3]);
    EXPECT_EQ(job["level"], levels[ordinal / 3]);
    EXPECT_EQ(job["tag"], tags[ordinal % 3]);
    EXPECT_EQ(job["op"], "noop");
    EXPECT_EQ(state["index"], (nlohmann::json{ordinal / 3, ordinal % 3}));
  }
  ExpectCountersEqualRows(dir_.path() / "batchd.db");
}

TEST_F(SchedulerTest, AnUnknownOpFailsTheSessionPermanentlyAndNamesIt) {
  // The API refuses unknown ops at submission; a spec stored some other way still fails
  // cleanly at dequeue instead of crashing or retrying forever.
  const std::string id = Create(R"({"template":{"op":"teleport"}})");
  scheduler_ = std::make_unique<Scheduler>(*store_, ops_, SchedulerOptions{.slots = 1});
  scheduler_->Start();
  const storage::BatchRecord b = WaitFinished(id);
  EXPECT_EQ(b.state, storage::BatchState::kFailed);
  Result<storage::SessionDetail> d =
      Await<storage::SessionDetail>([&](auto cb) { store_->GetSession(b.first_session_id, cb); });
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->execution);
  EXPECT_EQ(d->execution->error_kind, "permanent");
  EXPECT_NE(d->execution->error_message->find("teleport"), std::string::npos);
  EXPECT_EQ(d->session.attempts, 1);
}

// A transient failure's retry waits out its backoff on the scheduler's clock: the backoff counts
// from the clock's time, claims while the clock stands still find nothing due (however long the
// machine takes), and once the clock has moved past the backoff the next claim runs it.
TEST_F(SchedulerTest, ARetryWaitsForItsBackoffOnTheSchedulersClock) {
  constexpr int64_t kT = 1'000'000'000'000;  // 2001: no system clock's time today
  clock_.Set(kT);
  const std::string id =
      Create(R"({"template":{"op":"fail","kind":"transient","until_attempt":2}})");
  const int64_t session = Batch(id).first_session_id;
  scheduler_ = std::make_unique<Scheduler>(
      *store_, ops_,
      SchedulerOptions{.slots = 1, .retry_base_ms = 60'000, .clock = clock_.AsWallClock()});
  scheduler_->Start();
  const std::string not_before = "SELECT not_before FROM session WHERE id = ? AND state = 0";
  ASSERT_TRUE(WaitUntil([&] { return SessionColumn(not_before, session).has_value(); }))
      << "the failed session was never requeued";
  EXPECT_EQ(SessionColumn(not_before, session), kT + 60'000);
  EXPECT_EQ(SessionColumn("SELECT started_at FROM session_state WHERE session_id = ?", session),
            kT);

  // Claims after the requeue, at the clock's unchanged time: not due.
  const int64_t claims = scheduler_->Stats().claims;
  scheduler_->Wake();
  ASSERT_TRUE(WaitUntil([&] { return scheduler_->Stats().claims > claims; }));
  storage::BatchRecord waiting = Batch(id);
  EXPECT_EQ(waiting.counts.uninitialized, 1);
  EXPECT_EQ(waiting.counts.completed, 0);

  clock_.Advance(std::chrono::milliseconds(60'000));
  scheduler_->Wake();
  const storage::BatchRecord b = WaitFinished(id);
  EXPECT_EQ(b.state, storage::BatchState::kCompleted);
  Result<storage::SessionDetail> d =
      Await<storage::SessionDetail>([&](auto cb) { store_->GetSession(session, cb); });
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->session.attempts, 2);
}

TEST_F(SchedulerTest, StopInterruptsRunningSessionsAndTheyResumeLater) {
  const std::string id = Create(R"({"template":{"op":"sleep","ms":600000}})");
  scheduler_ = std::make_unique<Scheduler>(
      *store_, ops_, SchedulerOptions{.slots = 1, .shutdown_grace = std::chrono::milliseconds(1)});
  scheduler_->Start();
  for (int i = 0; i < 2000 && Batch(id).counts.in_progress == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(Batch(id).counts.in_progress, 1);
  scheduler_->Stop();  // the 10-minute sleep is interrupted, not canceled
  const storage::BatchRecord b = Batch(id);
  EXPECT_EQ(b.counts.uninitialized, 1);
  EXPECT_EQ(b.counts.canceled, 0);
  EXPECT_EQ(b.state, storage::BatchState::kQueued) << "nothing in progress, nothing finished";
  ExpectCountersEqualRows(dir_.path() / "batchd.db");
}

// A slot is given back when its session's outcome is queued, before the outcome is committed;
// the claim that reuses it is queued behind that outcome, so however fast sessions churn, no
// committed state ever shows more sessions in progress than there are slots.
TEST_F(SchedulerTest, QuickSessionsNeverShowMoreInProgressThanSlotsInTheDatabase) {
  constexpr int kSlots = 3;
  const std::string id =
      Create(R"({"template":{"op":"noop","x":0},"data":[[{"field":"/x","items":)" + [] {
        std::string items = "[0";
        for (int i = 1; i < 3000; ++i) items += "," + std::to_string(i);
        return items + "]";
      }() + "}]]}");
  SQLite::Database db((dir_.path() / "batchd.db").string(), SQLite::OPEN_READONLY);
  SQLite::Statement rows(db, "SELECT count(*) FROM session WHERE state = 1");
  SQLite::Statement counter(db, "SELECT n_in_progress, n_completed FROM batch");
  scheduler_ = std::make_unique<Scheduler>(*store_, ops_, SchedulerOptions{.slots = kSlots});
  scheduler_->Start();
  int64_t completed = 0;
  int samples = 0;
  for (; samples < 200'000 && completed < 3000; ++samples) {
    ASSERT_TRUE(rows.executeStep());
    ASSERT_LE(rows.getColumn(0).getInt64(), kSlots) << "sample " << samples;
    rows.reset();
    ASSERT_TRUE(counter.executeStep());
    ASSERT_LE(counter.getColumn(0).getInt64(), kSlots) << "sample " << samples;
    completed = counter.getColumn(1).getInt64();
    counter.reset();
  }
  EXPECT_EQ(completed, 3000) << "after " << samples << " samples";
  scheduler_->Stop();  // the last exec task may still be giving its slots back
  EXPECT_EQ(scheduler_->Stats().finished_total, 3000);
  EXPECT_EQ(scheduler_->Stats().running, 0);
  ExpectCountersEqualRows(dir_.path() / "batchd.db");
}

}  // namespace
}  // namespace batchd::daemon

namespace batchd::daemon {
namespace {

TEST_F(SchedulerTest, AnIdleClaimIntervalFindsWorkNothingWokeItFor) {
  const std::string id =
      Create(R"({"template":{"op":"noop","x":0},"data":[[{"field":"/x","items":[1,2,3]}]]})");
  Await<storage::BatchRecord>([&](auto cb) { store_->SetBatchPaused(id, true, cb); });
  scheduler_ = std::make_unique<Scheduler>(
      *store_, ops_, SchedulerOptions{.slots = 2, .idle_claim_interval_ms = 10});
  scheduler_->Start();
  // Resumed behind the scheduler's back, as another node's request would be: no Wake().
  Await<storage::BatchRecord>([&](auto cb) { store_->SetBatchPaused(id, false, cb); });
  const storage::BatchRecord done = WaitFinished(id);
  EXPECT_EQ(done.state, storage::BatchState::kCompleted);
  EXPECT_EQ(done.counts.completed, 3);
}

}  // namespace
}  // namespace batchd::daemon
