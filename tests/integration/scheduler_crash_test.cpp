// kill -9 while sessions run (docs/scheduler.md "Shutdown and recovery"): at the next start
// every session the crash left in progress goes back to the queue and runs again; nothing is
// canceled, nothing finished is run again, and nothing is counted twice.
//
// The kill is a real SIGKILL of the daemon process, at several moments of one batch. What the
// crash left is read from the database between the kill and the restart, so every check after
// the restart can be compared with it exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kInProgress = 1, kCompleted = 2;

class SchedulerCrashTest : public DaemonTest {
 protected:
  // Kills the daemon and reads what it left: the batch's session rows, with counters equal to
  // them (the counters move in the same transactions as the rows, so a crash cannot split them).
  void KillAndRead(const std::string& id, std::vector<SessionRow>* rows) {
    const ExitStatus killed = daemon().Kill();
    ASSERT_FALSE(killed.exited) << killed.ToString();
    ASSERT_EQ(killed.signal, SIGKILL) << killed.ToString();
    ASSERT_OK_AND_ASSIGN(*rows, ReadSessionRows(daemon().db_path(), id));
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
    EXPECT_EQ(audits[id].counters, audits[id].rows) << "at the crash";
  }
};

// Acceptance: a batch of sleep sessions, kill -9 at 5 moments mid-run, restart each time: every
// session ends completed exactly once, none canceled, counters equal the rows.
TEST_F(SchedulerCrashTest, KillNineAtFiveMomentsCompletesEverySessionExactlyOnce) {
  constexpr int64_t kSessions = 800;
  const std::vector<std::string> args = {"--slots", "8"};
  ASSERT_NO_FATAL_FAILURE(StartDaemon(args));
  // Sleeps of 10 to 20 ms: about 1.5 s of work in 8 slots.
  json ms = json::array();
  for (int64_t i = 0; i < kSessions; ++i) ms.push_back(10 + i % 11);
  const json batch = {{"name", "crashy"},
                      {"template", {{"op", "sleep"}, {"ms", 10}}},
                      {"data", {{{{"field", "/ms"}, {"items", ms}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));

  std::map<int64_t, SessionRow> finished;  // completed at some kill: must never run again
  std::map<int64_t, int64_t> interrupted;  // in progress at a kill -> attempts at the latest
  int64_t interruptions = 0;               // sum over kills of sessions in progress
  std::vector<std::string> report;
  for (int64_t threshold : {80, 200, 320, 440, 560}) {
    SCOPED_TRACE("kill after " + std::to_string(threshold) + " completed");
    ASSERT_OK_AND_ASSIGN(
        json seen,
        WaitForBatch(
            client(), id,
            [&](const json& b) { return b["counts"]["completed"].get<int64_t>() >= threshold; },
            seconds(60), "to pass the kill threshold"));
    std::vector<SessionRow> rows;
    ASSERT_NO_FATAL_FAILURE(KillAndRead(id, &rows));
    ASSERT_EQ(rows.size(), static_cast<size_t>(kSessions));

    std::vector<std::pair<int64_t, int64_t>> running_now;  // (id, attempts)
    int64_t completed = 0;
    for (const SessionRow& r : rows) {
      ASSERT_TRUE(r.state >= 0 && r.state <= kCompleted)
          << "session " << r.id << " in state " << r.state << " (error or canceled)";
      if (r.state == kCompleted) {
        ++completed;
        auto [it, first_time] = finished.emplace(r.id, r);
        if (!first_time) {
          EXPECT_EQ(r.attempts, it->second.attempts)
              << "completed session " << r.id << " ran again";
          EXPECT_EQ(r.finished_at, it->second.finished_at)
              << "completed session " << r.id << " finished again";
        }
      } else if (r.state == kInProgress) {
        running_now.emplace_back(r.id, r.attempts);
        interrupted[r.id] = r.attempts;
      }
    }
    ASSERT_LT(completed, kSessions) << "the batch finished before the kill: not mid-run";
    interruptions += static_cast<int64_t>(running_now.size());
    report.push_back(std::to_string(completed) + " completed/" +
                     std::to_string(running_now.size()) + " in progress");

    ASSERT_NO_FATAL_FAILURE(StartDaemon(args));
    // Recovery happens before the daemon listens: no session the crash left in progress is
    // still in progress from before. Each is back in the queue (due at once), or already claimed
    // again (one more attempt), or finished since.
    ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> after, ReadSessionRows(daemon().db_path(), id));
    std::map<int64_t, const SessionRow*> by_id;
    for (const SessionRow& r : after) by_id[r.id] = &r;
    for (const auto& [sid, attempts] : running_now) {
      const SessionRow& r = *by_id.at(sid);
      if (r.state == 0) {
        EXPECT_TRUE(r.not_before.has_value())
            << "session " << sid << " requeued without not_before";
        EXPECT_EQ(r.attempts, attempts) << "session " << sid;
      } else {
        EXPECT_GT(r.attempts, attempts)
            << "session " << sid << " still in state " << r.state << " from before the crash";
      }
      EXPECT_TRUE(r.state == 0 || r.state == kInProgress || r.state == kCompleted)
          << "session " << sid << " interrupted by a crash ended in state " << r.state;
    }
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
    EXPECT_EQ(audits[id].counters, audits[id].rows) << "after the restart";
  }
  std::cout << "[ killed   ] at:";
  for (const std::string& r : report) std::cout << " [" << r << "]";
  std::cout << "\n";
  EXPECT_GT(interruptions, 0) << "no kill caught a session in progress";

  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(60)));
  EXPECT_EQ(done["counts"], (json{{"uninitialized", 0},
                                  {"in_progress", 0},
                                  {"completed", kSessions},
                                  {"error", 0},
                                  {"canceled", 0}}));
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  EXPECT_EQ(audits[id].counters, audits[id].rows);
  EXPECT_EQ(audits[id].rows, (StateCounts{0, 0, kSessions, 0, 0}));

  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  ASSERT_EQ(rows.size(), static_cast<size_t>(kSessions));
  int64_t attempts = 0;
  for (const SessionRow& r : rows) {
    SCOPED_TRACE("session " + std::to_string(r.id));
    attempts += r.attempts;
    EXPECT_EQ(r.state, kCompleted);
    EXPECT_TRUE(r.has_execution_state);
    EXPECT_TRUE(r.started_at.has_value());
    EXPECT_TRUE(r.finished_at.has_value());
    EXPECT_FALSE(r.error_kind.has_value()) << *r.error_kind << ": " << r.error_message.value_or("");
    if (auto f = finished.find(r.id); f != finished.end()) {
      EXPECT_EQ(r.attempts, f->second.attempts) << "completed before a crash, then ran again";
      EXPECT_EQ(r.finished_at, f->second.finished_at) << "completed before a crash, then again";
    }
    if (auto i = interrupted.find(r.id); i != interrupted.end()) {
      EXPECT_GT(r.attempts, i->second) << "interrupted by a crash but never run again";
    }
  }
  // Every start either completed its session (once each) or was cut short by a kill.
  EXPECT_EQ(attempts, kSessions + interruptions);
}

// A session waiting out a retry backoff when the daemon is killed keeps its attempts: after the
// restart it continues from there and completes at exactly the attempt it would have.
TEST_F(SchedulerCrashTest, KillNineDuringRetryBackoffKeepsAttemptCounts) {
  constexpr int64_t kSessions = 20;
  const std::vector<std::string> args = {"--slots", "8", "--retry-backoff-ms", "400"};
  ASSERT_NO_FATAL_FAILURE(StartDaemon(args));
  json batch = FailBatch("backoff", kSessions, "transient", 3, "try again");
  batch["max_attempts"] = 3;
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));

  // Every session has failed once and waits (in the queue, with a not_before) for its retry.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  for (;;) {
    ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
    bool all_waiting = true;
    for (const SessionRow& r : rows) all_waiting &= r.attempts >= 1 && r.state != kInProgress;
    if (all_waiting) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sessions never all failed once";
    std::this_thread::sleep_for(milliseconds(2));
  }
  std::vector<SessionRow> at_kill;
  ASSERT_NO_FATAL_FAILURE(KillAndRead(id, &at_kill));
  ASSERT_NO_FATAL_FAILURE(StartDaemon(args));

  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(60)));
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  ASSERT_EQ(rows.size(), at_kill.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("session " + std::to_string(rows[i].id));
    EXPECT_EQ(rows[i].state, kCompleted);
    if (at_kill[i].state != kInProgress) {
      // Killed while it waited: no attempt lost or added by the crash.
      EXPECT_EQ(rows[i].attempts, 3) << "attempts at the kill: " << at_kill[i].attempts;
    } else {
      EXPECT_GE(rows[i].attempts, 3);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  EXPECT_EQ(audits[id].counters, audits[id].rows);
}

}  // namespace
}  // namespace batchd::testing
