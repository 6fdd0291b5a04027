// Issue 10, item 3a: an outcome flush that cannot commit used to fail its outcomes for good
// ("outcome of session N not recorded"), leaving their sessions in_progress while the scheduler
// had forgotten them. Now the buffer keeps them and writes them again until they commit, and
// claims wait meanwhile.
//
// The database is capped with PRAGMA max_page_count on the writer's own connection: a write
// needing a new page then fails with SQLITE_FULL, SQLite's "database or disk is full", exactly
// as on a full disk; raising the cap is the space coming back.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "storage/batch_insert_job.h"
#include "storage/claim_job.h"
#include "storage/function_job.h"
#include "storage/half_inserted_batches.h"
#include "storage/migrations.h"
#include "storage/outcome_buffer.h"
#include "storage/retry_timer.h"
#include "storage/sqlite_connection.h"
#include "storage/writer.h"
#include "storage_test_util.h"
#include "tests/support/manual_clock.h"
#include "tests/support/status_assertions.h"

namespace batchd::storage {
namespace {

using testing::Await;
using testing::TempDir;

class OutcomeRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenConnection(db_path(), ConnectionRole::kWriter);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(ApplyMigrations(**db).ok());
    writer_ = std::make_unique<Writer>(std::move(*db), WriterOptions{});
    outcomes_ = std::make_unique<OutcomeBuffer>(*writer_, retries_, ResultMerger{});
    leftovers_ = std::make_unique<HalfInsertedBatches>(*writer_, retries_);
    Result<BatchCreated> created = Await<BatchCreated>([&](auto cb) {
      std::unique_ptr<WriteJob> job = std::make_unique<BatchInsertJob>(
          testing::MakeBatch(8), clock_.Now(), 65536, 0, *leftovers_, cb);
      ASSERT_TRUE(writer_->Submit(job).ok());
    });
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  void TearDown() override {
    outcomes_->Stop();
    retries_.Stop();
    writer_->Stop();
  }

  std::filesystem::path db_path() const { return dir_.path() / "store.db"; }

  std::unique_ptr<WriteJob> Claim(int n, Callback<ClaimResult> done) {
    return std::make_unique<ClaimJob>(n, clock_.Now(), writer_->statements(), std::move(done),
                                      nullptr, outcomes_.get());
  }

  Result<ClaimResult> ClaimNow(int n) {
    return Await<ClaimResult>([&](auto cb) {
      std::unique_ptr<WriteJob> job = Claim(n, cb);
      ASSERT_TRUE(writer_->Submit(job).ok());
    });
  }

  // Caps the database at the pages it has now (`cap` true) or lifts the cap.
  void CapDatabase(bool cap) {
    Result<int64_t> r = Await<int64_t>([&](auto cb) {
      std::unique_ptr<WriteJob> job = std::make_unique<FunctionJob<int64_t>>(
          [cap](SQLite::Database& db) -> Result<int64_t> {
            const int64_t pages = db.execAndGet("PRAGMA page_count").getInt64();
            return db
                .execAndGet("PRAGMA max_page_count = " +
                            std::to_string(cap ? pages : int64_t{1} << 30))
                .getInt64();
          },
          cb);
      ASSERT_TRUE(writer_->Submit(job).ok());
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // An outcome whose result needs pages the capped database does not have.
  SessionOutcome BigOutcome(const ClaimedSession& s) {
    SessionOutcome o;
    o.session_id = s.id;
    o.batch_id = s.batch_id;
    o.target = SessionOutcome::Target::kCompleted;
    o.result_json = "\"" + std::string(64 << 10, 'r') + "\"";
    o.finished_at_ms = clock_.Now();
    return o;
  }

  // Waits (a guard against hangs, not a time bound) until `condition` holds.
  template <typename Condition>
  static bool Eventually(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  TempDir dir_;
  const batchd::testing::ManualClock clock_;  // the times the jobs are given
  RetryTimer retries_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<OutcomeBuffer> outcomes_;
  std::unique_ptr<HalfInsertedBatches> leftovers_;
};

TEST_F(OutcomeRetryTest, OutcomesThatCannotCommitAreKeptAndStoredOnceThereIsSpace) {
  ASSERT_OK_AND_ASSIGN(ClaimResult claimed, ClaimNow(4));
  ASSERT_EQ(claimed.sessions.size(), 4u);
  ASSERT_NO_FATAL_FAILURE(CapDatabase(true));

  std::vector<std::promise<Result<bool>>> done(claimed.sessions.size());
  std::vector<std::future<Result<bool>>> recorded;
  for (size_t i = 0; i < claimed.sessions.size(); ++i) {
    recorded.push_back(done[i].get_future());
    outcomes_->FinishSession(BigOutcome(claimed.sessions[i]),
                             [p = &done[i]](Result<bool> r) { p->set_value(std::move(r)); });
  }
  ASSERT_TRUE(Eventually([&] { return writer_->health().Snapshot().failures[0] > 0; }))
      << "the flush never met the cap";
  const StoreHealthSnapshot full = writer_->health().Snapshot();
  EXPECT_TRUE(full.degraded);
  EXPECT_NE(full.reason.find("full"), std::string::npos) << full.reason;
  // The failure is counted in the flush's step, before the flush hands its entries back.
  EXPECT_TRUE(Eventually([&] { return outcomes_->Unstored() >= 4u; })) << outcomes_->Unstored();
  for (auto& f : recorded) {
    EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
        << "an outcome was answered before it was stored";
  }
  // No claim while outcomes wait: the database would show more sessions in progress than run.
  // A claim whose round the retried flush loses fails with the round (the database is full);
  // one that the gate answers says why it waits.
  Result<ClaimResult> refused = ClaimNow(4);
  ASSERT_TRUE(Eventually([&] {
    if (refused.ok() || refused.status().code() != StatusCode::kIoError) return true;
    refused = ClaimNow(4);
    return false;
  }));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();

  ASSERT_NO_FATAL_FAILURE(CapDatabase(false));
  for (auto& f : recorded) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    Result<bool> r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r);
  }
  EXPECT_EQ(outcomes_->Unstored(), 0u);
  EXPECT_FALSE(writer_->health().Snapshot().degraded);
  ASSERT_OK_AND_ASSIGN(ClaimResult rest, ClaimNow(8));
  EXPECT_EQ(rest.sessions.size(), 4u);
  writer_->Stop();
  testing::ExpectCountersEqualRows(db_path());
  EXPECT_EQ(testing::CountRows(db_path(), "session WHERE state = 2"), 4);
}

TEST_F(OutcomeRetryTest, CheckpointOfAHeldSessionIsKeptOnceNotOncePerReport) {
  ASSERT_OK_AND_ASSIGN(ClaimResult claimed, ClaimNow(1));
  ASSERT_EQ(claimed.sessions.size(), 1u);
  ASSERT_NO_FATAL_FAILURE(CapDatabase(true));
  outcomes_->FinishSession(BigOutcome(claimed.sessions[0]), [](Result<bool>) {});
  ASSERT_TRUE(Eventually([&] { return outcomes_->Unstored() > 0; }));
  const size_t held = outcomes_->Unstored();
  // A running session reports every second; an outage of hours must not pile the reports up.
  for (int i = 0; i < 1000; ++i) {
    outcomes_->SaveCheckpoint({.session_id = claimed.sessions[0].id + 1,
                               .chunks_done = i,
                               .chunks_total = 1000,
                               .checkpoint_json = "{}"});
  }
  EXPECT_LE(outcomes_->Unstored(), held + 1);
  ASSERT_NO_FATAL_FAILURE(CapDatabase(false));
  EXPECT_TRUE(Eventually([&] { return outcomes_->Unstored() == 0; }));
}

}  // namespace
}  // namespace batchd::storage
