// The judges of the scale-out tests, judged: ExactlyOnceProblems flags the histories a broken
// rescue or a zombie node would leave, and passes a rescued one; ReadEventLog and
// SessionHistories read a real daemon's log (here the embedded SQLite one, which needs no
// PostgreSQL) across many pages, with every session completed once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/integration/scaleout/scaleout_cluster.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

nlohmann::json Transition(int64_t seq, int64_t session, const std::string& from,
                          const std::string& to, int64_t attempt) {
  return {{"seq", seq},         {"type", "session.state"},
          {"batch", "b"},       {"session", session},
          {"from", from},       {"to", to},
          {"attempt", attempt}, {"error", nullptr}};
}

std::string ProblemsOf(const std::vector<nlohmann::json>& events, std::vector<int64_t> ids) {
  return ExactlyOnceProblems(SessionHistories(events), ids);
}

TEST(ExactlyOnceProblemsTest, AcceptsARescuedSessionCompletedByItsLatestClaim) {
  // Claimed (attempt 1), rescued without an event, claimed again (2), completed by that claim.
  EXPECT_EQ(ProblemsOf({Transition(1, 7, "uninitialized", "in_progress", 1),
                        Transition(5, 7, "uninitialized", "in_progress", 2),
                        Transition(9, 7, "in_progress", "completed", 2)},
                       {7}),
            "");
}

TEST(ExactlyOnceProblemsTest, FlagsASecondCompletion) {
  std::string problems = ProblemsOf({Transition(1, 7, "uninitialized", "in_progress", 1),
                                     Transition(2, 7, "uninitialized", "in_progress", 2),
                                     Transition(3, 7, "in_progress", "completed", 1),
                                     Transition(4, 7, "in_progress", "completed", 2)},
                                    {7});
  EXPECT_NE(problems.find("completed 2 times"), std::string::npos) << problems;
}

TEST(ExactlyOnceProblemsTest, FlagsACompletionByALostClaim) {
  // The node of attempt 1 lost the session, attempt 2 is still running: 1 completes it anyway.
  std::string problems = ProblemsOf({Transition(1, 7, "uninitialized", "in_progress", 1),
                                     Transition(2, 7, "uninitialized", "in_progress", 2),
                                     Transition(3, 7, "in_progress", "completed", 1)},
                                    {7});
  EXPECT_NE(problems.find("completed with attempt 1, latest claim 2"), std::string::npos)
      << problems;
}

TEST(ExactlyOnceProblemsTest, FlagsMissingNeverCompletedAndLaterTransitions) {
  std::string problems = ProblemsOf({Transition(1, 1, "uninitialized", "in_progress", 1),
                                     Transition(2, 2, "uninitialized", "in_progress", 1),
                                     Transition(3, 2, "in_progress", "completed", 1),
                                     Transition(4, 2, "completed", "uninitialized", 1)},
                                    {1, 2, 3});
  EXPECT_NE(problems.find("session 1: completed 0 times"), std::string::npos) << problems;
  EXPECT_NE(problems.find("session 2: a transition after its completion"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("session 3: no session.state event at all"), std::string::npos)
      << problems;
}

TEST(ExactlyOnceProblemsTest, FlagsAClaimThatDidNotCountAnAttempt) {
  std::string problems = ProblemsOf({Transition(1, 7, "uninitialized", "in_progress", 1),
                                     Transition(2, 7, "uninitialized", "in_progress", 1),
                                     Transition(3, 7, "in_progress", "completed", 1)},
                                    {7});
  EXPECT_NE(problems.find("a claim whose attempt did not go up"), std::string::npos) << problems;
}

// A single SQLite node: the log has more than one page of session.state events, and it reads
// as every session completed once.
TEST(EventLogReadingTest, ReadsEveryPageOfARealLogAndFindsEachSessionCompletedOnce) {
  TempDir dir;
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = dir.path();
  options.store = "";  // the embedded store; BATCHD_TEST_DAEMON_STORE may still pick another
  // Without it the default 1000 session.state events a second thin a fast drain (the judge
  // then reports sessions "completed 0 times"), as they would in the scale-out tests.
  options.extra_args = {"--event-session-rate", "100000000"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DaemonProcess> daemon,
                       DaemonProcess::Start(std::move(options)));
  HttpClient client(daemon->port());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client, SleepBatch("pages", 700, 0)));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client, id, "completed", std::chrono::minutes(3)));
  (void)done;
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client, id));
  ASSERT_EQ(ids.size(), 700u);
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> events,
                       ReadEventLog(client, "batch=" + id + "&types=session.state"));
  EXPECT_EQ(events.size(), 2u * 700) << "one claim and one completion each";
  EXPECT_EQ(ExactlyOnceProblems(SessionHistories(events), ids), "");
  // And from a later `since`, only what follows it.
  const int64_t since = events[999]["seq"].get<int64_t>();
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> tail,
                       ReadEventLog(client, "batch=" + id + "&types=session.state", since));
  ASSERT_EQ(tail.size(), events.size() - 1000);
  EXPECT_EQ(tail.front(), events[1000]);
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop());
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

// BATCHD_TEST_DAEMON_STORE (tests/support/daemon_process.h): a value it does not know fails the
// start instead of silently testing SQLite; "sqlite" is the embedded store.
TEST(DaemonStoreChoiceTest, AnUnknownStoreIsRefusedAndSqliteIsTheEmbeddedStore) {
  struct RestoreEnv {
    ~RestoreEnv() { ::unsetenv(kStoreEnvVariable); }
  } restore;
  ASSERT_EQ(std::getenv(kStoreEnvVariable), nullptr) << "run this test without it";
  TempDir dir;
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = dir.path();
  ::setenv(kStoreEnvVariable, "mysql", 1);
  Result<std::unique_ptr<DaemonProcess>> refused = DaemonProcess::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("mysql"), std::string::npos)
      << refused.status().ToString();

  ::setenv(kStoreEnvVariable, "sqlite", 1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DaemonProcess> daemon, DaemonProcess::Start(options));
  EXPECT_EQ(daemon->store(), "");
  EXPECT_TRUE(std::filesystem::exists(daemon->db_path()));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / kStoreUriFile));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop());
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

}  // namespace
}  // namespace batchd::testing
