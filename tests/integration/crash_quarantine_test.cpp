// Issue 10, item 1: a session that crashes the daemon must not make it unstartable. Recovery
// used to requeue every session a crash left in progress, so one whose input aborted the daemon
// (std::bad_alloc from a huge grid) crashed it again at every restart, forever. Now the daemon
// records a fatal signal of its own (daemon/crash_marker.h) and a session in progress at three
// such crashes ends in a permanent error instead; kills (SIGKILL) never count, so kill -9 still
// resumes everything. The daemon is crashed here with SIGABRT, the signal std::terminate sends.
#include <csignal>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr int64_t kHour = 3'600'000;

class CrashQuarantineTest : public DaemonTest {
 protected:
  // Submits one sleep-an-hour session and waits until it runs; its id.
  void StartLongSession(std::string* batch_id, int64_t* session_id) {
    ASSERT_OK_AND_ASSIGN(*batch_id, SubmitBatch(client(), SleepBatch("pill", 1, kHour)));
    ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), *batch_id));
    ASSERT_EQ(ids.size(), 1u);
    *session_id = ids[0];
    ASSERT_OK(WaitForSessionState(client(), *session_id, "in_progress", seconds(60)).status());
  }

  // Ends the daemon with `signal`, starts it again on the same data dir.
  void EndWithAndRestart(int signal) {
    if (signal == SIGKILL) {
      daemon().Kill();
    } else {
      Result<ExitStatus> exit = daemon().Stop(signal);
      ASSERT_TRUE(exit.ok()) << exit.status().ToString();
      ASSERT_FALSE(exit->exited) << exit->ToString();
      ASSERT_EQ(exit->signal, signal) << exit->ToString();
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
  }

  void ExpectCountersMatchRows() {
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
    for (const auto& [id, audit] : audits) EXPECT_EQ(audit.counters, audit.rows) << id;
  }
};

TEST_F(CrashQuarantineTest, ASessionInProgressAtThreeCrashesEndsInErrorAndTheDaemonServes) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::string batch;
  int64_t sid = 0;
  ASSERT_NO_FATAL_FAILURE(StartLongSession(&batch, &sid));
  for (int crash = 1; crash <= 2; ++crash) {
    SCOPED_TRACE("crash " + std::to_string(crash));
    ASSERT_NO_FATAL_FAILURE(EndWithAndRestart(SIGABRT));
    // Under the limit the session is requeued and runs again.
    ASSERT_OK(WaitForSessionState(client(), sid, "in_progress", seconds(60)).status());
  }
  ASSERT_NO_FATAL_FAILURE(EndWithAndRestart(SIGABRT));
  ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
  EXPECT_EQ(s["state"], "error") << s.dump();
  EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
  EXPECT_NE(s["error"]["message"].get<std::string>().find("crashed the daemon 3 times"),
            std::string::npos)
      << s.dump();
  ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), batch, "failed", seconds(30)));
  EXPECT_EQ(b["counts"]["error"], 1) << b.dump();
  // The daemon serves and runs new work.
  ASSERT_OK_AND_ASSIGN(std::string next, SubmitBatch(client(), SleepBatch("after", 2, 1)));
  ASSERT_OK(WaitForBatchState(client(), next, "completed", seconds(60)).status());
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

TEST_F(CrashQuarantineTest, KillsNeverCountSoTheSessionResumesEveryTime) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::string batch;
  int64_t sid = 0;
  ASSERT_NO_FATAL_FAILURE(StartLongSession(&batch, &sid));
  for (int kill = 1; kill <= 4; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill));
    ASSERT_NO_FATAL_FAILURE(EndWithAndRestart(SIGKILL));
    ASSERT_OK(WaitForSessionState(client(), sid, "in_progress", seconds(60)).status());
  }
  // A crash after the kills is the first that counts: still requeued.
  ASSERT_NO_FATAL_FAILURE(EndWithAndRestart(SIGABRT));
  ASSERT_OK_AND_ASSIGN(json s, WaitForSessionState(client(), sid, "in_progress", seconds(60)));
  EXPECT_EQ(s["attempts"], 6) << s.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

TEST_F(CrashQuarantineTest, TheLimitIsAFlag) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--quarantine-after-crashes", "1"}));
  std::string batch;
  int64_t sid = 0;
  ASSERT_NO_FATAL_FAILURE(StartLongSession(&batch, &sid));
  Result<ExitStatus> exit = daemon().Stop(SIGABRT);
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--quarantine-after-crashes", "1"}));
  ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
  EXPECT_EQ(s["state"], "error") << s.dump();
  EXPECT_NE(s["error"]["message"].get<std::string>().find("crashed the daemon 1 times"),
            std::string::npos)
      << s.dump();
}

}  // namespace
}  // namespace batchd::testing
