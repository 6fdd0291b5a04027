// kill -9 while a large batch is being inserted: after a restart no trace of the half batch
// may be visible, and the daemon must go on handing out fresh ids.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

// 2M sessions written 500 per transaction: thousands of commits, so the insert is still
// running when we look (and the crash lands between two committed slices).
nlohmann::json BigBatch() {
  nlohmann::json xs = nlohmann::json::array(), ys = nlohmann::json::array();
  for (int i = 0; i < 2000; ++i) xs.push_back(i);
  for (int i = 0; i < 1000; ++i) ys.push_back(i);
  return {{"name", "doomed"},
          {"template", {{"op", "noop"}, {"x", 0}, {"y", 0}}},
          {"data", {{{{"field", "/x"}, {"items", xs}}}, {{{"field", "/y"}, {"items", ys}}}}}};
}

class InsertCrashTest : public DaemonTest {};

TEST_F(InsertCrashTest, KillDuringInsertLeavesNoHalfBatchAfterRestart) {
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon({"--insert-slice-rows", "500", "--max-sessions-per-batch", "5000000"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());  // this test is about the insert, not execution
  // A finished batch from before the crash must survive it untouched.
  ASSERT_OK_AND_ASSIGN(HttpResponse kept,
                       client().Post("/api/v1/batches", SimpleBatch("kept", 7).dump()));
  ASSERT_EQ(kept.status, 201) << kept.Describe();
  const std::string kept_id = kept.Json()["id"];

  // The POST never gets its answer: it runs in a thread whose request dies with the daemon.
  std::thread poster([port = daemon().port()] {
    HttpClient c(port, std::chrono::seconds(60));
    (void)c.Post("/api/v1/batches", BigBatch().dump());
  });

  // Wait until the batch is visibly half-inserted (bounded), then pull the plug.
  bool half_inserted = false;
  for (int i = 0; i < 2000 && !half_inserted; ++i) {
    Result<DbFingerprint> fp = FingerprintDb(daemon().db_path());
    half_inserted = fp.ok() && fp->batch_rows == 2 && fp->session_rows > 7 + 1000;
    if (!half_inserted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(half_inserted) << "never saw the big batch half-way in";
  daemon().Kill();
  poster.join();

  ASSERT_OK_AND_ASSIGN(DbFingerprint crashed, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(crashed.batch_rows, 2);
  EXPECT_GT(crashed.session_rows, 7);
  EXPECT_LT(crashed.session_rows, 7 + 2'000'000) << "the insert finished before the kill";

  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after.batch_rows, 1);
  EXPECT_EQ(after.session_rows, 7);

  ASSERT_OK_AND_ASSIGN(HttpResponse list, client().Get("/api/v1/batches"));
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.Json()["items"].size(), 1u) << list.body;
  EXPECT_EQ(list.Json()["items"][0]["id"], kept_id);
  EXPECT_EQ(list.Json()["items"][0]["counts"]["uninitialized"], 7);

  // New work after the recovery gets ids past everything ever handed out.
  ASSERT_OK_AND_ASSIGN(HttpResponse fresh,
                       client().Post("/api/v1/batches", SimpleBatch("fresh", 3).dump()));
  ASSERT_EQ(fresh.status, 201) << fresh.Describe();
  ASSERT_OK_AND_ASSIGN(
      HttpResponse sessions,
      client().Get("/api/v1/batches/" + fresh.Json()["id"].get<std::string>() + "/sessions"));
  ASSERT_EQ(sessions.status, 200);
  EXPECT_GT(sessions.Json()["items"][0]["id"].get<int64_t>(), crashed.max_session_id);

  ASSERT_OK_AND_ASSIGN(auto audit, AuditBatchCounters(daemon().db_path()));
  for (const auto& [id, a] : audit) {
    EXPECT_EQ(a.counters, a.rows) << id;
  }
}

}  // namespace
}  // namespace batchd::testing
