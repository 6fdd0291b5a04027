// Issue 10, item 2: how the scheduler records outcomes that the bounds made possible.
// (b) A cancel now aborts a chunk read in flight, and the op may hear of it as a failed read
// ("canceled", a transient error) before it sees the cancel itself. Such a run was canceled,
// not failed: it must end `canceled`, not be retried or counted as an error.
// (d) An error message (which quotes URLs, keys, servers' answers) is stored per session and
// sent in its session.state event: it is cut at 4 KiB, at a character boundary.
#include <gtest/gtest.h>

#include <thread>

#include "core/batch_expansion.h"
#include "core/batch_spec.h"
#include "daemon/scheduler.h"
#include "storage_test_util.h"

namespace batchd::daemon {
namespace {

using storage::testing::Await;

// Runs until canceled, then reports what an aborted read reports: a transient failure.
class FailsWhenCanceledOp final : public pipeline::Op {
 public:
  void Run(const pipeline::OpContext& ctx, pipeline::OpDone done) const override {
    ctx.cancel->OnCancel([done = std::move(done)]() mutable {
      pipeline::OpDone report = std::move(done);
      report(pipeline::OpOutcome::Failed(Status::Unavailable("GET http://x/0: canceled")));
    });
  }
};

// Fails at once, permanently, with a message of 1 MiB (as a message quoting a huge URL would).
class FailsLongOp final : public pipeline::Op {
 public:
  void Run(const pipeline::OpContext&, pipeline::OpDone done) const override {
    done(pipeline::OpOutcome::Failed(Status::InvalidArgument(std::string(1 << 20, 'x'))));
  }
};

class SessionOutcomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::Store>> s =
        storage::OpenSqliteStore({.db_path = dir_.path() / "batchd.db"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ops_.Register("fails_when_canceled", std::make_unique<FailsWhenCanceledOp>());
    ops_.Register("fails_long", std::make_unique<FailsLongOp>());
    scheduler_ =
        std::make_unique<Scheduler>(*store_, ops_, SchedulerOptions{.slots = 1, .exec_threads = 1});
    scheduler_->Start();
  }
  void TearDown() override {
    scheduler_->Stop();
    store_->Close();
  }

  // A batch of one session of `op`; its public id.
  std::string Create(const std::string& op) {
    Result<BatchSpec> spec =
        ParseBatchSpec(R"({"template": {"op": ")" + op + R"("}, "max_attempts": 3})", {});
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    storage::NewBatch b;
    b.spec_json = BatchSpecToJson(*spec).dump();
    b.session_count = 1;
    b.max_attempts = 3;
    Result<storage::BatchCreated> created =
        Await<storage::BatchCreated>([&](auto cb) { store_->CreateBatch(std::move(b), cb); });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    scheduler_->Wake();
    return created.ok() ? created->public_id : "";
  }

  storage::BatchRecord Batch(const std::string& id) {
    Result<storage::BatchRecord> r =
        Await<storage::BatchRecord>([&](auto cb) { store_->GetBatch(id, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : storage::BatchRecord{};
  }

  // Polls (bounded) until `done(batch)`; the last batch seen.
  template <typename Done>
  storage::BatchRecord WaitFor(const std::string& id, Done done) {
    storage::BatchRecord b = Batch(id);
    for (int i = 0; i < 4000 && !done(b); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      b = Batch(id);
    }
    return b;
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  pipeline::OpRegistry ops_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SessionOutcomeTest, AFailureReportedAfterACancelEndsTheSessionCanceled) {
  const std::string id = Create("fails_when_canceled");
  ASSERT_EQ(WaitFor(id, [](const auto& b) { return b.counts.in_progress == 1; }).counts.in_progress,
            1);
  // As POST /api/v1/batches/{id}/cancel does it.
  ASSERT_TRUE(Await<storage::BatchRecord>([&](auto cb) { store_->CancelBatch(id, cb); }).ok());
  scheduler_->CancelRunningBatch(id);
  const storage::BatchRecord finished =
      WaitFor(id, [](const auto& b) { return b.state == storage::BatchState::kCanceled; });
  EXPECT_EQ(finished.state, storage::BatchState::kCanceled);
  EXPECT_EQ(finished.counts.canceled, 1);
  EXPECT_EQ(finished.counts.error, 0);
  EXPECT_EQ(finished.counts.uninitialized, 0) << "not requeued for a retry";
}

TEST_F(SessionOutcomeTest, AnErrorMessageIsStoredAndSentCutToFourKibibytes) {
  const std::string id = Create("fails_long");
  const storage::BatchRecord failed =
      WaitFor(id, [](const auto& b) { return b.state == storage::BatchState::kFailed; });
  ASSERT_EQ(failed.state, storage::BatchState::kFailed);
  Result<storage::SessionDetail> session = Await<storage::SessionDetail>(
      [&](auto cb) { store_->GetSession(failed.first_session_id, cb); });
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_TRUE(session->execution && session->execution->error_message);
  const std::string& message = *session->execution->error_message;
  EXPECT_LE(message.size(), 4096u);
  EXPECT_GT(message.size(), 3000u) << "the start of the message is kept";
  EXPECT_NE(message.find("bytes cut)"), std::string::npos) << message.substr(message.size() - 60);

  Result<storage::EventPage> events = Await<storage::EventPage>([&](auto cb) {
    store_->ReadEvents({.batch_public_id = id, .types = {storage::EventType::kSessionState}}, cb);
  });
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  bool errored = false;
  for (const storage::EventRecord& e : events->events) {
    EXPECT_LE(e.error_message.size(), 4096u);
    errored = errored || e.error_kind == "permanent";
  }
  EXPECT_TRUE(errored) << "a small batch's failure is a session.state event";
}

}  // namespace
}  // namespace batchd::daemon
