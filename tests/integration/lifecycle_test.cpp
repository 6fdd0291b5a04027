// The lifecycle routes (docs/api.md "Lifecycle" and "Queue", docs/scheduler.md "Cancel, pause,
// retry") against the real daemon: what each change does to sessions, batches and counters,
// that it survives a restart where promised, retries (automatic and requested), and the 404 and
// 409 answers, which follow the JSON error contract and change nothing.
//
// Sessions that must stay running sleep a minute; every test cancels them before it ends, so
// the daemon's clean stop does not wait out its shutdown grace period.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/api_state.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kMinute = 60'000;

json Counts(int64_t uninitialized, int64_t in_progress, int64_t completed, int64_t error,
            int64_t canceled) {
  return {{"uninitialized", uninitialized},
          {"in_progress", in_progress},
          {"completed", completed},
          {"error", error},
          {"canceled", canceled}};
}

std::string BatchPath(const std::string& id) { return "/api/v1/batches/" + id; }
std::string SessionPath(int64_t id) { return "/api/v1/sessions/" + std::to_string(id); }

class LifecycleTest : public DaemonTest {
 protected:
  // POST with an empty body; the raw response (any status).
  HttpResponse Post(const std::string& target) {
    Result<HttpResponse> r = client().Post(target, "");
    EXPECT_TRUE(r.ok()) << "POST " << target << ": " << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  HttpResponse Get(const std::string& target) {
    Result<HttpResponse> r = client().Get(target);
    EXPECT_TRUE(r.ok()) << "GET " << target << ": " << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  HttpResponse Delete(const std::string& target) {
    Result<HttpResponse> r = client().Request("DELETE", target, "", {});
    EXPECT_TRUE(r.ok()) << "DELETE " << target << ": " << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  // Counters equal the session rows for every batch, and sum to the batch's session count.
  void ExpectCountersMatchRows() {
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
    for (const auto& [id, a] : audits) {
      EXPECT_EQ(a.counters, a.rows) << "batch " << id;
      EXPECT_EQ(a.unknown_state_rows, 0) << "batch " << id;
      const StateCounts& c = a.counters;
      EXPECT_EQ(c.uninitialized + c.in_progress + c.completed + c.error + c.canceled,
                a.session_count)
          << "batch " << id;
    }
  }

  // Samples the batch for `window` and fails if any session of it leaves `uninitialized` or
  // gets a session_state row: a bounded observation that nothing is claimed.
  void ExpectNothingClaimedFor(const std::string& id, int64_t sessions, milliseconds window) {
    const auto end = std::chrono::steady_clock::now() + window;
    int samples = 0;
    do {
      ASSERT_OK_AND_ASSIGN(json b, GetJson(client(), BatchPath(id)));
      ASSERT_EQ(b["counts"], Counts(sessions, 0, 0, 0, 0)) << b.dump();
      ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
      for (const SessionRow& r : rows) {
        ASSERT_EQ(r.attempts, 0) << "session " << r.id << " was claimed";
        ASSERT_FALSE(r.has_state_row) << "session " << r.id << " was materialized";
      }
      ++samples;
      std::this_thread::sleep_for(milliseconds(10));
    } while (std::chrono::steady_clock::now() < end);
    EXPECT_GT(samples, 1);
  }

  // Submits one sleep-a-minute session and waits until it runs; its id.
  void StartLongSession(const std::string& name, int64_t* session_id) {
    ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch(name, 1, kMinute)));
    ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
    ASSERT_EQ(ids.size(), 1u);
    ASSERT_OK_AND_ASSIGN(json s, WaitForSessionState(client(), ids[0], "in_progress", seconds(20)));
    *session_id = ids[0];
  }
};

// Canceling a running `sleep 60000` ends it long before the sleep would: three times, the
// session is `canceled` with the cancel's error, its batch too. The time from the cancel to the
// first GET showing `canceled` is printed (the target is 100 ms), not asserted: a loaded 2-core
// CI machine can stall any request, so no test here bounds wall-clock time; the poll only gives
// up after 30 s, against a hang.
TEST_F(LifecycleTest, CancelOfRunningSleepEndsIt) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  std::vector<double> measured;
  for (int round = 0; round < 3; ++round) {
    int64_t sid = 0;
    ASSERT_NO_FATAL_FAILURE(StartLongSession("long-" + std::to_string(round), &sid));

    const auto t0 = std::chrono::steady_clock::now();
    HttpResponse cancel = Post(SessionPath(sid) + "/cancel");
    ASSERT_EQ(cancel.status, 202) << cancel.Describe();
    json last;
    for (;;) {  // tight polling, bounded
      ASSERT_OK_AND_ASSIGN(last, GetJson(client(), SessionPath(sid)));
      if (last["state"] == "canceled") break;
      ASSERT_LT(std::chrono::steady_clock::now() - t0, seconds(30))
          << "still not canceled after 30 s: " << last.dump();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    measured.push_back(ms);

    const json summary = cancel.Json();
    EXPECT_EQ(summary["id"], sid) << cancel.body;
    EXPECT_EQ(summary["state"], "in_progress") << "202 answers the session as it was";
    EXPECT_EQ(last["attempts"], 1) << last.dump();
    ASSERT_TRUE(last["error"].is_object()) << last.dump();
    EXPECT_EQ(last["error"]["kind"], "canceled") << last.dump();
    ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), last["batch_id"].get<std::string>(),
                                                   "canceled", seconds(5)));
    EXPECT_EQ(b["counts"], Counts(0, 0, 0, 0, 1)) << b.dump();
    // Canceling it again: it already holds.
    HttpResponse again = Post(SessionPath(sid) + "/cancel");
    EXPECT_EQ(again.status, 200) << again.Describe();
    EXPECT_EQ(again.Json()["state"], "canceled") << again.Describe();
  }
  std::cout << "[ measured ] cancel to canceled (ms, target 100):";
  for (double ms : measured) std::cout << " " << ms;
  std::cout << "\n";
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// An uninitialized session is canceled at once (200); again is still 200; the rest of the
// batch runs and the batch ends `canceled` (one canceled, none in error). A finished session
// cannot be canceled (409, nothing changes).
TEST_F(LifecycleTest, CancelOfWaitingSessionIsImmediateAndOfFinishedOneIsConflict) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch("three", 3, 1)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_EQ(ids.size(), 3u);

  for (int i = 0; i < 2; ++i) {
    HttpResponse r = Post(SessionPath(ids[1]) + "/cancel");
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(r.Json()["state"], "canceled") << r.Describe();
    EXPECT_EQ(r.Json()["attempts"], 0) << r.Describe();
  }
  ASSERT_OK_AND_ASSIGN(json b, GetJson(client(), BatchPath(id)));
  EXPECT_EQ(b["counts"], Counts(2, 0, 0, 0, 1)) << b.dump();
  // A canceled session counts as finished, and a batch with any finished session is `running`
  // (docs/scheduler.md, batch states), even though nothing has run yet.
  EXPECT_EQ(b["state"], "running") << b.dump();

  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(b, WaitForBatchState(client(), id, "canceled", seconds(30)));
  EXPECT_EQ(b["counts"], Counts(0, 0, 2, 0, 1)) << b.dump();
  ASSERT_OK_AND_ASSIGN(json canceled, GetJson(client(), SessionPath(ids[1])));
  EXPECT_EQ(canceled["attempts"], 0) << "a canceled session never ran: " << canceled.dump();
  EXPECT_TRUE(canceled["execution_state"].is_null()) << canceled.dump();

  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
  ASSERT_OK_AND_ASSIGN(json api_before, CaptureApiState(client()));
  HttpResponse conflict = Post(SessionPath(ids[0]) + "/cancel");
  EXPECT_TRUE(IsApiError(conflict, 409, "conflict", ""));
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  ASSERT_OK_AND_ASSIGN(json api_after, CaptureApiState(client()));
  EXPECT_EQ(after, before);
  EXPECT_EQ(api_after, api_before);
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// Acceptance: retrying a failed session runs it again, as attempt 2. Only error and canceled
// sessions can be retried (409 otherwise).
TEST_F(LifecycleTest, RetryOfFailedSessionRunsItAgainWithAttemptTwo) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2", "--retry-backoff-ms", "10"}));
  ASSERT_OK_AND_ASSIGN(const std::string id,
                       SubmitBatch(client(), FailBatch("once", 2, "permanent", 2, "not yet")));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(30)));
  EXPECT_EQ(failed["counts"], Counts(0, 0, 0, 2, 0)) << failed.dump();
  EXPECT_FALSE(failed["finished_at"].is_null()) << failed.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), SessionPath(ids[0])));
  EXPECT_EQ(s["attempts"], 1) << s.dump();
  EXPECT_EQ(s["error"], (json{{"kind", "permanent"}, {"message", "not yet"}})) << s.dump();

  HttpResponse retry = Post(SessionPath(ids[0]) + "/retry");
  ASSERT_EQ(retry.status, 200) << retry.Describe();
  EXPECT_EQ(retry.Json()["state"], "uninitialized") << retry.Describe();
  EXPECT_EQ(retry.Json()["attempts"], 1) << retry.Describe();
  ASSERT_OK_AND_ASSIGN(s, WaitForSessionState(client(), ids[0], "completed", seconds(30)));
  EXPECT_EQ(s["attempts"], 2) << s.dump();
  ASSERT_OK_AND_ASSIGN(json other, GetJson(client(), SessionPath(ids[1])));
  EXPECT_EQ(other["state"], "error") << "only the retried session runs again: " << other.dump();
  ASSERT_OK_AND_ASSIGN(
      json b, WaitForBatch(
                  client(), id, [](const json& x) { return x["counts"]["completed"] == 1; },
                  seconds(10), "to count the retried session completed"));
  EXPECT_EQ(b["counts"], Counts(0, 0, 1, 1, 0)) << b.dump();
  EXPECT_EQ(b["state"], "failed") << b.dump();

  // A completed session cannot be retried; nor can one that has not run.
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
  EXPECT_TRUE(IsApiError(Post(SessionPath(ids[0]) + "/retry"), 409, "conflict", ""));
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before);

  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(const std::string waiting_id,
                       SubmitBatch(client(), SleepBatch("waiting", 1, 1)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> waiting, SessionIdsOf(client(), waiting_id));
  EXPECT_TRUE(IsApiError(Post(SessionPath(waiting[0]) + "/retry"), 409, "conflict", ""));
  // A canceled session can: it then runs (for the first time).
  ASSERT_EQ(Post(SessionPath(waiting[0]) + "/cancel").status, 200);
  HttpResponse revived = Post(SessionPath(waiting[0]) + "/retry");
  ASSERT_EQ(revived.status, 200) << revived.Describe();
  EXPECT_EQ(revived.Json()["state"], "uninitialized") << revived.Describe();
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json w, WaitForSessionState(client(), waiting[0], "completed", seconds(30)));
  EXPECT_EQ(w["attempts"], 1) << w.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// Canceling a batch: its waiting sessions are canceled at once, its running ones are stopped;
// the batch ends `canceled` with every counter right. Then it is finished: pausing or resuming
// it is a conflict, canceling again is not, and it can be deleted.
TEST_F(LifecycleTest, BatchCancelStopsRunningAndWaitingSessions) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(const std::string id,
                       SubmitBatch(client(), SleepBatch("doomed", 10, kMinute)));
  ASSERT_OK_AND_ASSIGN(
      json running, WaitForBatch(
                        client(), id, [](const json& b) { return b["counts"]["in_progress"] == 2; },
                        seconds(20), "to have 2 sessions in progress"));
  EXPECT_EQ(running["state"], "running") << running.dump();

  ASSERT_OK_AND_ASSIGN(json answer,
                       PostJson(client(), BatchPath(id) + "/cancel", json::object(), 200));
  EXPECT_EQ(answer["id"], id) << answer.dump();
  // The waiting 8 are canceled in the cancel's own transaction.
  EXPECT_EQ(answer["counts"]["uninitialized"], 0) << answer.dump();
  EXPECT_GE(answer["counts"]["canceled"].get<int64_t>(), 8) << answer.dump();

  ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), id, "canceled", seconds(5)));
  EXPECT_EQ(b["counts"], Counts(0, 0, 0, 0, 10)) << b.dump();
  EXPECT_FALSE(b["finished_at"].is_null()) << b.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  int ran = 0;
  for (const SessionRow& r : rows) {
    EXPECT_EQ(r.state, 4) << "session " << r.id;
    if (r.attempts > 0) {
      ++ran;
      EXPECT_EQ(r.error_kind, "canceled") << "session " << r.id;
    } else {
      EXPECT_FALSE(r.has_state_row) << "session " << r.id;
    }
  }
  EXPECT_EQ(ran, 2);
  ASSERT_OK_AND_ASSIGN(json q, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(q["counts"]["in_progress"], 0) << q.dump();

  HttpResponse again = Post(BatchPath(id) + "/cancel");
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.Json()["state"], "canceled") << again.Describe();
  EXPECT_TRUE(IsApiError(Post(BatchPath(id) + "/pause"), 409, "conflict", ""));
  EXPECT_TRUE(IsApiError(Post(BatchPath(id) + "/resume"), 409, "conflict", ""));

  HttpResponse deleted = Delete(BatchPath(id));
  ASSERT_EQ(deleted.status, 200) << deleted.Describe();
  EXPECT_EQ(deleted.Json(), (json{{"deleted", id}, {"sessions", 10}}));
}

// Acceptance: retrying a failed batch runs its failed sessions again (attempt 2), and it
// completes; the batch is unfinished again meanwhile (finished_at cleared).
TEST_F(LifecycleTest, BatchRetryRunsFailedSessionsAgain) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(const std::string id,
                       SubmitBatch(client(), FailBatch("flaky", 5, "permanent", 2, "first try")));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(30)));
  EXPECT_EQ(failed["counts"], Counts(0, 0, 0, 5, 0)) << failed.dump();

  ASSERT_NO_FATAL_FAILURE(PauseQueue());  // so the answer and the state in between are stable
  ASSERT_OK_AND_ASSIGN(json retried,
                       PostJson(client(), BatchPath(id) + "/retry", json::object(), 200));
  EXPECT_EQ(retried["counts"], Counts(5, 0, 0, 0, 0)) << retried.dump();
  // Unfinished again: docs/scheduler.md says "back to running/queued". (The counters alone
  // decide, so with every session uninitialized again it reads `queued`.)
  EXPECT_TRUE(retried["state"] == "queued" || retried["state"] == "running") << retried.dump();
  EXPECT_TRUE(retried["finished_at"].is_null()) << retried.dump();
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));

  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  EXPECT_EQ(done["counts"], Counts(0, 0, 5, 0, 0)) << done.dump();
  EXPECT_FALSE(done["finished_at"].is_null()) << done.dump();
  ASSERT_OK_AND_ASSIGN(Pages sessions, FetchAllPages(client(), BatchPath(id) + "/sessions", ""));
  ASSERT_EQ(sessions.items.size(), 5u);
  for (const json& s : sessions.items) {
    EXPECT_EQ(s["state"], "completed") << s.dump();
    EXPECT_EQ(s["attempts"], 2) << s.dump();
  }

  // Retrying a completed batch has nothing to do: it is not an error, and nothing runs.
  HttpResponse noop = Post(BatchPath(id) + "/retry");
  EXPECT_EQ(noop.status, 200) << noop.Describe();
  EXPECT_EQ(noop.Json()["state"], "completed") << noop.Describe();
  EXPECT_EQ(noop.Json()["counts"], Counts(0, 0, 5, 0, 0)) << noop.Describe();
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// A batch canceled before it ran can be retried: its sessions run for the first time.
TEST_F(LifecycleTest, BatchRetryOfCanceledBatchRunsItsSessions) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch("later", 4, 1)));
  ASSERT_OK_AND_ASSIGN(json canceled,
                       PostJson(client(), BatchPath(id) + "/cancel", json::object(), 200));
  EXPECT_EQ(canceled["state"], "canceled") << canceled.dump();
  EXPECT_EQ(canceled["counts"], Counts(0, 0, 0, 0, 4)) << canceled.dump();
  ASSERT_OK_AND_ASSIGN(json retried,
                       PostJson(client(), BatchPath(id) + "/retry", json::object(), 200));
  EXPECT_EQ(retried["state"], "queued") << retried.dump();
  EXPECT_EQ(retried["counts"], Counts(4, 0, 0, 0, 0)) << retried.dump();
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  for (const SessionRow& r : rows) {
    EXPECT_EQ(r.state, 2) << r.id;
    EXPECT_EQ(r.attempts, 1) << r.id;
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// Transient failures are retried automatically (after the backoff) while attempts remain.
TEST_F(LifecycleTest, TransientFailureIsRetriedUntilItSucceeds) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2", "--retry-backoff-ms", "10"}));
  json batch = FailBatch("transient", 3, "transient", 3, "disk busy");
  batch["max_attempts"] = 3;
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  EXPECT_EQ(done["counts"], Counts(0, 0, 3, 0, 0)) << done.dump();
  ASSERT_OK_AND_ASSIGN(Pages sessions, FetchAllPages(client(), BatchPath(id) + "/sessions", ""));
  ASSERT_EQ(sessions.items.size(), 3u);
  for (const json& s : sessions.items) {
    EXPECT_EQ(s["state"], "completed") << s.dump();
    EXPECT_EQ(s["attempts"], 3) << s.dump();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// ... and once max_attempts is spent, the session ends in error saying it gave up.
TEST_F(LifecycleTest, TransientFailureGivesUpAfterMaxAttempts) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2", "--retry-backoff-ms", "10"}));
  json batch = FailBatch("hopeless", 2, "transient", 9, "disk busy");
  batch["max_attempts"] = 2;
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(30)));
  EXPECT_EQ(failed["counts"], Counts(0, 0, 0, 2, 0)) << failed.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), SessionPath(sid)));
    SCOPED_TRACE(s.dump());
    EXPECT_EQ(s["state"], "error");
    EXPECT_EQ(s["attempts"], 2);
    ASSERT_TRUE(s["error"].is_object());
    EXPECT_EQ(s["error"]["kind"], "transient");
    const std::string message = s["error"]["message"].get<std::string>();
    EXPECT_NE(message.find("disk busy"), std::string::npos);
    EXPECT_NE(message.find("gave up"), std::string::npos);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// A permanent failure is not retried, whatever max_attempts says.
TEST_F(LifecycleTest, PermanentFailureFailsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2", "--retry-backoff-ms", "10"}));
  json batch = FailBatch("broken", 2, "permanent", std::nullopt, "bad input");
  batch["max_attempts"] = 5;
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(30)));
  EXPECT_EQ(failed["counts"], Counts(0, 0, 0, 2, 0)) << failed.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), SessionPath(sid)));
    EXPECT_EQ(s["state"], "error") << s.dump();
    EXPECT_EQ(s["attempts"], 1) << s.dump();
    EXPECT_EQ(s["error"], (json{{"kind", "permanent"}, {"message", "bad input"}})) << s.dump();
  }
}

// DELETE removes a finished batch with its sessions and their states; a running or queued one
// is a conflict and stays.
TEST_F(LifecycleTest, DeleteRemovesOnlyFinishedBatches) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "1"}));
  ASSERT_OK_AND_ASSIGN(const std::string done_id, SubmitBatch(client(), SleepBatch("done", 5, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), done_id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> done_sessions, SessionIdsOf(client(), done_id));
  ASSERT_OK_AND_ASSIGN(const std::string busy_id,
                       SubmitBatch(client(), SleepBatch("busy", 2, kMinute)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> busy_sessions, SessionIdsOf(client(), busy_id));
  ASSERT_OK_AND_ASSIGN(json busy, WaitForSession(
                                      client(), busy_sessions[0],
                                      [](const json& s) { return !s["execution_state"].is_null(); },
                                      seconds(20), "to be dequeued"));
  // With its only slot taken, this one waits.
  ASSERT_OK_AND_ASSIGN(const std::string queued_id,
                       SubmitBatch(client(), SleepBatch("queued", 2, 1)));

  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
  EXPECT_TRUE(IsApiError(Delete(BatchPath(busy_id)), 409, "conflict", ""));
  EXPECT_TRUE(IsApiError(Delete(BatchPath(queued_id)), 409, "conflict", ""));
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after.batch_rows, before.batch_rows);
  EXPECT_EQ(after.session_rows, before.session_rows);
  ASSERT_OK_AND_ASSIGN(json still, GetJson(client(), BatchPath(busy_id)));

  HttpResponse deleted = Delete(BatchPath(done_id));
  ASSERT_EQ(deleted.status, 200) << deleted.Describe();
  EXPECT_EQ(deleted.Json(), (json{{"deleted", done_id}, {"sessions", 5}}));
  EXPECT_TRUE(IsApiError(Get(BatchPath(done_id)), 404, "not_found", ""));
  EXPECT_TRUE(IsApiError(Get(BatchPath(done_id) + "/sessions"), 404, "not_found", ""));
  EXPECT_TRUE(IsApiError(Get(SessionPath(done_sessions[0])), 404, "not_found", ""));
  EXPECT_TRUE(IsApiError(Delete(BatchPath(done_id)), 404, "not_found", ""));
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  EXPECT_EQ(audits.count(done_id), 0u);
  EXPECT_EQ(audits.size(), 2u);
  // Its session_state rows went with it: only the busy batch's running session has one.
  ASSERT_OK_AND_ASSIGN(int64_t state_rows, CountSessionStateRows(daemon().db_path()));
  EXPECT_EQ(state_rows, 1);
  ASSERT_OK_AND_ASSIGN(Pages list, FetchAllPages(client(), "/api/v1/batches", ""));
  EXPECT_EQ(list.items.size(), 2u);

  ASSERT_OK_AND_ASSIGN(json c,
                       PostJson(client(), BatchPath(busy_id) + "/cancel", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json ended, WaitForBatchState(client(), busy_id, "canceled", seconds(10)));
  HttpResponse gone = Delete(BatchPath(busy_id));
  EXPECT_EQ(gone.status, 200) << gone.Describe();
  ASSERT_OK_AND_ASSIGN(json q, WaitForBatchState(client(), queued_id, "completed", seconds(30)));
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// Changes a finished batch or session forbids are 409 `conflict` in the error format, and
// change nothing: the database and everything the API shows stay the same.
TEST_F(LifecycleTest, ConflictsOnFinishedBatchesAndSessionsChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(const std::string ok_id, SubmitBatch(client(), SleepBatch("fine", 2, 1)));
  ASSERT_OK_AND_ASSIGN(const std::string bad_id,
                       SubmitBatch(client(), FailBatch("bad", 1, "permanent", std::nullopt, "no")));
  ASSERT_OK_AND_ASSIGN(json ok, WaitForBatchState(client(), ok_id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(json bad, WaitForBatchState(client(), bad_id, "failed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ok_sessions, SessionIdsOf(client(), ok_id));

  ASSERT_OK_AND_ASSIGN(DbFingerprint db_before, FingerprintDb(daemon().db_path()));
  ASSERT_OK_AND_ASSIGN(json api_before, CaptureApiState(client()));
  for (const std::string& id : {ok_id, bad_id}) {
    SCOPED_TRACE("batch " + id);
    EXPECT_TRUE(IsApiError(Post(BatchPath(id) + "/pause"), 409, "conflict", ""));
    EXPECT_TRUE(IsApiError(Post(BatchPath(id) + "/resume"), 409, "conflict", ""));
    EXPECT_TRUE(IsApiError(Post(BatchPath(id) + "/cancel"), 409, "conflict", ""));
  }
  EXPECT_TRUE(IsApiError(Post(SessionPath(ok_sessions[0]) + "/retry"), 409, "conflict", ""));
  EXPECT_TRUE(IsApiError(Post(SessionPath(ok_sessions[1]) + "/cancel"), 409, "conflict", ""));
  ASSERT_OK_AND_ASSIGN(DbFingerprint db_after, FingerprintDb(daemon().db_path()));
  ASSERT_OK_AND_ASSIGN(json api_after, CaptureApiState(client()));
  EXPECT_EQ(db_after, db_before);
  EXPECT_EQ(api_after, api_before);
}

// Every lifecycle route answers 404 `not_found` for a batch or session that does not exist,
// and 405 for a method it does not take.
TEST_F(LifecycleTest, UnknownIdsAreNotFound) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch("real", 1, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  for (const std::string& missing : {std::string("0123456789abcdef"), std::string("nope")}) {
    SCOPED_TRACE("batch " + missing);
    for (const char* action : {"cancel", "pause", "resume", "retry"}) {
      EXPECT_TRUE(IsApiError(Post(BatchPath(missing) + "/" + action), 404, "not_found", ""))
          << action;
    }
    EXPECT_TRUE(IsApiError(Delete(BatchPath(missing)), 404, "not_found", ""));
  }
  for (const std::string& missing :
       {std::string("999999"), std::string("0"), std::string("-1"), std::string("abc")}) {
    SCOPED_TRACE("session " + missing);
    for (const char* action : {"cancel", "retry"}) {
      EXPECT_TRUE(
          IsApiError(Post("/api/v1/sessions/" + missing + "/" + action), 404, "not_found", ""))
          << action;
    }
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse get_cancel, client().Get(BatchPath(id) + "/cancel"));
  EXPECT_TRUE(IsApiError(get_cancel, 405, "method_not_allowed", ""));
  ASSERT_OK_AND_ASSIGN(HttpResponse put_pause,
                       client().Request("PUT", "/api/v1/queue/pause", "", {}));
  EXPECT_TRUE(IsApiError(put_pause, 405, "method_not_allowed", ""));
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before);
}

// A paused queue claims nothing (sampled for a while, with work waiting); resumed, it runs
// everything. Pausing twice is not an error.
TEST_F(LifecycleTest, PausedQueueClaimsNothingAndResumeRunsIt) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "4"}));
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(json q, PostJson(client(), "/api/v1/queue/pause", json::object(), 200));
    EXPECT_EQ(q["paused"], true) << q.dump();
    for (const char* member :
         {"counts", "batches_active", "slots", "running", "sessions_per_s", "finished_total"}) {
      EXPECT_TRUE(q.contains(member)) << member << " missing in " << q.dump();
    }
    EXPECT_EQ(q["slots"], 4) << q.dump();
  }
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch("held", 6, 1)));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingClaimedFor(id, 6, milliseconds(300)));
  ASSERT_OK_AND_ASSIGN(json q, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(q["paused"], true) << q.dump();
  EXPECT_EQ(q["running"], 0) << q.dump();
  EXPECT_EQ(q["counts"], Counts(6, 0, 0, 0, 0)) << q.dump();
  EXPECT_EQ(q["batches_active"], 1) << q.dump();

  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  EXPECT_EQ(resumed["paused"], false) << resumed.dump();
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(json again, PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  EXPECT_EQ(again["paused"], false) << again.dump();
  EXPECT_EQ(again["counts"], Counts(0, 0, 6, 0, 0)) << again.dump();
  EXPECT_EQ(again["batches_active"], 0) << again.dump();
}

// The queue's pause is stored: still paused after a clean restart and after kill -9.
TEST_F(LifecycleTest, QueuePauseSurvivesRestarts) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), SleepBatch("held", 4, 1)));

  ASSERT_NO_FATAL_FAILURE(RestartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(json q, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(q["paused"], true) << q.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectNothingClaimedFor(id, 4, milliseconds(200)));

  daemon().Kill();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(q, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(q["paused"], true) << q.dump();
  ASSERT_NO_FATAL_FAILURE(ExpectNothingClaimedFor(id, 4, milliseconds(200)));

  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_NO_FATAL_FAILURE(RestartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(q, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(q["paused"], false) << "the resume is stored too: " << q.dump();
}

// Acceptance: pause a running batch, restart the daemon, it is still paused (nothing of it
// runs); resume, and it continues to completion, every session run exactly once.
TEST_F(LifecycleTest, PausedBatchStaysPausedAcrossRestartAndResumeContinues) {
  constexpr int64_t kSessions = 30;
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(const std::string id,
                       SubmitBatch(client(), SleepBatch("interrupted", kSessions, 20)));
  ASSERT_OK_AND_ASSIGN(
      json started, WaitForBatch(
                        client(), id, [](const json& b) { return b["counts"]["completed"] >= 2; },
                        seconds(30), "to complete 2 sessions"));
  for (int i = 0; i < 2; ++i) {  // the second pause already holds
    ASSERT_OK_AND_ASSIGN(json paused,
                         PostJson(client(), BatchPath(id) + "/pause", json::object(), 200));
    EXPECT_EQ(paused["state"], "paused") << paused.dump();
  }
  // Running sessions finish; nothing new starts.
  ASSERT_OK_AND_ASSIGN(
      json drained, WaitForBatch(
                        client(), id, [](const json& b) { return b["counts"]["in_progress"] == 0; },
                        seconds(10), "to have nothing in progress"));
  const int64_t completed = drained["counts"]["completed"].get<int64_t>();
  ASSERT_LT(completed, kSessions) << "the batch finished before the pause took hold";
  EXPECT_EQ(drained["state"], "paused") << drained.dump();

  ASSERT_NO_FATAL_FAILURE(RestartDaemon({"--slots", "2"}));
  const auto end = std::chrono::steady_clock::now() + milliseconds(300);
  do {  // a bounded look: nothing of the paused batch starts after the restart
    ASSERT_OK_AND_ASSIGN(json b, GetJson(client(), BatchPath(id)));
    ASSERT_EQ(b["state"], "paused") << b.dump();
    ASSERT_EQ(b["counts"], Counts(kSessions - completed, 0, completed, 0, 0)) << b.dump();
    std::this_thread::sleep_for(milliseconds(10));
  } while (std::chrono::steady_clock::now() < end);

  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), BatchPath(id) + "/resume", json::object(), 200));
  EXPECT_EQ(resumed["state"], "running") << resumed.dump();
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  EXPECT_EQ(done["counts"], Counts(0, 0, kSessions, 0, 0)) << done.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  for (const SessionRow& r : rows) {
    EXPECT_EQ(r.state, 2) << r.id;
    EXPECT_EQ(r.attempts, 1) << "session " << r.id << " ran more than once";
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows());
}

// GET /api/v1/queue: its counts are the sum of every batch's counters, over batches in every
// state at once; batches_active counts the queued, running and paused ones.
TEST_F(LifecycleTest, QueueCountsEqualTheSumOfBatchCounters) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(const std::string completed_id,
                       SubmitBatch(client(), SleepBatch("completed", 3, 1)));
  ASSERT_OK_AND_ASSIGN(json a, WaitForBatchState(client(), completed_id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(
      const std::string failed_id,
      SubmitBatch(client(), FailBatch("failed", 2, "permanent", std::nullopt, "x")));
  ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), failed_id, "failed", seconds(30)));
  // Both slots taken for a minute; one session of it waits.
  ASSERT_OK_AND_ASSIGN(const std::string running_id,
                       SubmitBatch(client(), SleepBatch("running", 3, kMinute)));
  ASSERT_OK_AND_ASSIGN(json c, WaitForBatch(
                                   client(), running_id,
                                   [](const json& x) { return x["counts"]["in_progress"] == 2; },
                                   seconds(20), "to fill both slots"));
  ASSERT_OK_AND_ASSIGN(const std::string paused_id,
                       SubmitBatch(client(), SleepBatch("paused", 5, 1)));
  ASSERT_OK_AND_ASSIGN(json d,
                       PostJson(client(), BatchPath(paused_id) + "/pause", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(const std::string canceled_id,
                       SubmitBatch(client(), SleepBatch("canceled", 4, 1)));
  ASSERT_OK_AND_ASSIGN(json e,
                       PostJson(client(), BatchPath(canceled_id) + "/cancel", json::object(), 200));

  ASSERT_OK_AND_ASSIGN(json queue, GetJson(client(), "/api/v1/queue"));
  ASSERT_OK_AND_ASSIGN(Pages batches, FetchAllPages(client(), "/api/v1/batches", "limit=2"));
  ASSERT_EQ(batches.items.size(), 5u);
  json sum = Counts(0, 0, 0, 0, 0);
  int64_t active = 0;
  for (const json& batch : batches.items) {
    for (auto& [state, n] : sum.items())
      n = n.get<int64_t>() + batch["counts"][state].get<int64_t>();
    const std::string state = batch["state"];
    if (state == "queued" || state == "running" || state == "paused") ++active;
  }
  EXPECT_EQ(queue["counts"], sum) << queue.dump();
  EXPECT_EQ(queue["counts"], Counts(5 + 1, 2, 3, 2, 4)) << queue.dump();
  EXPECT_EQ(queue["batches_active"], active) << queue.dump();
  EXPECT_EQ(active, 2);
  EXPECT_EQ(queue["slots"], 2) << queue.dump();
  EXPECT_EQ(queue["running"], 2) << queue.dump();
  EXPECT_EQ(queue["paused"], false) << queue.dump();
  EXPECT_GE(queue["finished_total"].get<int64_t>(), 5) << queue.dump();
  EXPECT_GE(queue["sessions_per_s"].get<double>(), 0.0) << queue.dump();

  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  StateCounts rows;
  for (const auto& [id, audit] : audits) {
    rows.uninitialized += audit.rows.uninitialized;
    rows.in_progress += audit.rows.in_progress;
    rows.completed += audit.rows.completed;
    rows.error += audit.rows.error;
    rows.canceled += audit.rows.canceled;
  }
  EXPECT_EQ(rows, (StateCounts{6, 2, 3, 2, 4}));

  ASSERT_OK_AND_ASSIGN(json stop,
                       PostJson(client(), BatchPath(running_id) + "/cancel", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json ended,
                       WaitForBatchState(client(), running_id, "canceled", seconds(10)));
}

}  // namespace
}  // namespace batchd::testing
