// Issue 10, item 3: the disk filling up under a running daemon. Before, a failed outcome commit
// left its sessions in_progress for good (the batch never finished, a cancel changed nothing),
// a 200k-session POST that failed part-way left an `enqueuing` batch nothing could remove
// before a restart, and /healthz said ok throughout. Now outcomes are kept and written once
// there is space, a half-inserted batch is removed then, and /healthz answers 503 `degraded`
// with the reason while the store cannot commit.
//
// The disk is real: a small tmpfs under the data dir (tests/support/private_tmpfs.h), filled
// with a file and emptied again, so SQLite's COMMIT fails with SQLITE_FULL as on a full
// production disk. It needs root to mount; the tests skip without it (CI runs them as root).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_process.h"
#include "tests/support/db_inspector.h"
#include "tests/support/http_client.h"
#include "tests/support/private_tmpfs.h"
#include "tests/support/prometheus_exposition.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

#ifndef BATCHD_BINARY
#error "BATCHD_BINARY must name the batchd executable"
#endif

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr uint64_t kDiskBytes = 32 << 20;

// A daemon whose data dir is a 32 MiB tmpfs of its own; its log lives outside it.
class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    std::filesystem::create_directory(data_);
    Result<std::unique_ptr<PrivateTmpfs>> disk = PrivateTmpfs::Mount(data_, kDiskBytes);
    if (!disk.ok())
      GTEST_SKIP() << "needs root to mount a small tmpfs: " << disk.status().ToString();
    disk_ = std::move(*disk);
  }

  void StartDaemon(std::vector<std::string> extra_args) {
    DaemonOptions options;
    options.binary = BATCHD_BINARY;
    options.data_dir = data_;
    options.log_file = dir_.path() / "batchd.log";
    options.log_level = "debug";
    options.extra_args = std::move(extra_args);
    ASSERT_OK_AND_ASSIGN(daemon_, DaemonProcess::Start(std::move(options)));
    client_ = std::make_unique<HttpClient>(daemon_->port());
  }

  void TearDown() override {
    if (daemon_ != nullptr && !HasFailure()) {
      Result<ExitStatus> exit = daemon_->Stop(SIGTERM);
      ASSERT_TRUE(exit.ok()) << exit.status().ToString();
      EXPECT_TRUE(exit->CleanExit()) << exit->ToString();
    }
    if (HasFailure() && daemon_ != nullptr) {
      std::cerr << "--- batchd log ---\n" << daemon_->LogTail(8000) << "\n--- end ---\n";
    }
    daemon_.reset();
    disk_.reset();  // unmounted before dir_ goes
  }

  // Polls until /healthz says the store cannot commit for lack of space; that answer.
  Result<json> WaitUntilDegradedByFullDisk() {
    return WaitForHealth(
        *client_,
        [](const json& h) {
          return h["http"] == 503 && h["body"]["status"] == "degraded" &&
                 h["body"]["reason"].get<std::string>().find("full") != std::string::npos;
        },
        seconds(60), "/healthz to say degraded (disk full)");
  }

  Result<json> WaitUntilHealthy() {
    return WaitForHealth(
        *client_,
        [](const json& h) {
          return h["http"] == 200 && h["body"]["status"] == "ok" &&
                 h["body"]["outcomes_unstored"] == 0 && h["body"]["half_inserted_batches"] == 0;
        },
        seconds(60), "/healthz to say ok with nothing left to store");
  }

  double Metric(const std::string& name, const PromLabels& labels = {}) {
    Result<HttpResponse> r = client_->Get("/metrics");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return -1;
    Result<PromExposition> e = ParsePromExposition(r->body);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? e->ValueOr0(name, labels) : -1;
  }

  // Every batch's counters against its session rows.
  void ExpectCountersEqualRows() {
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon_->db_path()));
    for (const auto& [id, a] : audits) {
      EXPECT_EQ(a.counters, a.rows) << "batch " << id;
      EXPECT_EQ(a.unknown_state_rows, 0) << "batch " << id;
    }
  }

  HttpClient& client() { return *client_; }

  TempDir dir_;
  std::filesystem::path data_;
  std::unique_ptr<PrivateTmpfs> disk_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<HttpClient> client_;
};

// Sleeps long enough that sessions are still running when the disk fills, so their outcomes
// meet the full disk.
constexpr int64_t kSleepMs = 1500;

TEST_F(DiskFullTest, OutcomesThatCouldNotCommitAreStoredOnceThereIsSpaceAndTheBatchFinishes) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "4"}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("full", 12, kSleepMs)));
  ASSERT_OK(WaitForBatch(
                client(), id, [](const json& b) { return b["counts"]["in_progress"] == 4; },
                seconds(60), "four sessions running")
                .status());
  ASSERT_OK(disk_->Fill());

  // The running sessions finish on the full disk: their outcomes cannot commit.
  ASSERT_OK_AND_ASSIGN(json degraded, WaitUntilDegradedByFullDisk());
  ASSERT_OK(WaitForHealth(
                client(), [](const json& h) { return h["body"]["outcomes_unstored"] >= 1; },
                seconds(60), "an outcome waiting to be stored")
                .status());
  EXPECT_GE(Metric("batchd_store_commit_failures_total", {{"cause", "full"}}), 1);
  EXPECT_EQ(Metric("batchd_store_degraded"), 1);
  ASSERT_OK_AND_ASSIGN(json during, GetJson(client(), "/api/v1/batches/" + id));
  EXPECT_EQ(during["state"], "running") << during.dump();

  ASSERT_OK(disk_->Free());
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(120)));
  EXPECT_EQ(done["counts"]["completed"], 12) << done.dump();
  EXPECT_EQ(done["counts"]["in_progress"], 0) << done.dump();
  ASSERT_OK(WaitUntilHealthy().status());
  EXPECT_EQ(Metric("batchd_store_degraded"), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectCountersEqualRows());
}

TEST_F(DiskFullTest, ABatchWhoseOutcomesMetAFullDiskCanBeCanceledOnceThereIsSpace) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "4"}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("cancel", 400, kSleepMs)));
  ASSERT_OK(WaitForBatch(
                client(), id, [](const json& b) { return b["counts"]["in_progress"] == 4; },
                seconds(60), "four sessions running")
                .status());
  ASSERT_OK(disk_->Fill());
  ASSERT_OK(WaitForHealth(
                client(), [](const json& h) { return h["body"]["outcomes_unstored"] >= 1; },
                seconds(60), "an outcome waiting to be stored")
                .status());
  ASSERT_OK(disk_->Free());
  ASSERT_OK(WaitUntilHealthy().status());

  ASSERT_OK_AND_ASSIGN(HttpResponse cancel, client().Post("/api/v1/batches/" + id + "/cancel", ""));
  ASSERT_EQ(cancel.status, 200) << cancel.Describe();
  ASSERT_OK_AND_ASSIGN(json canceled, WaitForBatchState(client(), id, "canceled", seconds(60)));
  EXPECT_EQ(canceled["counts"]["in_progress"], 0) << canceled.dump();
  EXPECT_EQ(canceled["counts"]["uninitialized"], 0) << canceled.dump();
  EXPECT_GT(canceled["counts"]["canceled"], 0) << canceled.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersEqualRows());
}

// The batches the database holds that are still `enqueuing`, and the session rows of all
// batches, read from the thread that mounted the disk (the only one that sees it).
struct InsertLeftovers {
  int64_t enqueuing_batches = 0;
  int64_t session_rows = 0;
};
InsertLeftovers ReadLeftovers(const std::filesystem::path& db) {
  SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
  SQLite::Statement batches(d, "SELECT count(*) FROM batch WHERE state = 'enqueuing'");
  batches.executeStep();
  SQLite::Statement sessions(d, "SELECT count(*) FROM session");
  sessions.executeStep();
  return {batches.getColumn(0).getInt64(), sessions.getColumn(0).getInt64()};
}

TEST_F(DiskFullTest, AHalfInsertedBatchIsRemovedOnceThereIsSpaceAndFreesItsPlace) {
  // One active batch at most: the half-inserted one holds that place until it is gone.
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon({"--insert-slice-rows", "10000", "--max-active-batches", "1"}));
  ASSERT_OK_AND_ASSIGN(HttpResponse paused, client().Post("/api/v1/queue/pause", ""));
  ASSERT_EQ(paused.status, 200) << paused.Describe();
  json big = SleepBatch("big", 200'000, 1);
  // About 1 MiB left: a few slices of 10,000 sessions commit, then the disk is full.
  ASSERT_OK(disk_->Fill(1 << 20));
  ASSERT_OK_AND_ASSIGN(HttpResponse failed, client().Post("/api/v1/batches", big.dump()));
  ASSERT_NE(failed.status, 201) << failed.Describe();
  const InsertLeftovers left = ReadLeftovers(daemon_->db_path());
  ASSERT_EQ(left.enqueuing_batches, 1) << "the insert was meant to fail part-way";
  ASSERT_GT(left.session_rows, 0) << "the insert was meant to fail part-way";
  ASSERT_OK_AND_ASSIGN(json degraded, WaitUntilDegradedByFullDisk());
  EXPECT_EQ(degraded["body"]["half_inserted_batches"], 1) << degraded.dump();

  ASSERT_OK(disk_->Free());
  ASSERT_OK(WaitUntilHealthy().status());
  const InsertLeftovers after = ReadLeftovers(daemon_->db_path());
  EXPECT_EQ(after.enqueuing_batches, 0);
  EXPECT_EQ(after.session_rows, 0);
  // Its place among the active batches is free again, and the same POST now succeeds.
  ASSERT_OK_AND_ASSIGN(HttpResponse again, client().Post("/api/v1/batches", big.dump()));
  EXPECT_EQ(again.status, 201) << again.Describe();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersEqualRows());
}

}  // namespace
}  // namespace batchd::testing
