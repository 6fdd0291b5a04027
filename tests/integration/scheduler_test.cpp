// Execution against the real daemon (docs/scheduler.md): slots and max_running bound what is in
// progress, claims go by priority, then age, then ordinal, and a session's execution state is
// built only when it is dequeued.
//
// Order is read from the database (session_state.started_at, set when a session is first
// dequeued): with --slots 1 and sleeps of a few ms, sessions start strictly one after another,
// so the order of started_at is the order of execution. No assertion depends on how fast
// anything runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// One executed session, for order checks: which batch, its ordinal, when it started.
struct Started {
  std::string batch;
  int64_t ordinal = 0;
  int64_t started_at = 0;
};

std::string Describe(const std::vector<Started>& order) {
  std::string out;
  for (const Started& s : order) {
    out += s.batch + "#" + std::to_string(s.ordinal) + "@" + std::to_string(s.started_at) + " ";
  }
  return out;
}

class SchedulerTest : public DaemonTest {
 protected:
  // Every session of `batches` (all finished), sorted by session_state.started_at. Fails if a
  // session has no started_at, or if two share one (with --slots 1 and sleeps of >= 2 ms that
  // would mean two sessions ran at once).
  void ExecutionOrder(const std::vector<std::pair<std::string, std::string>>& batches,
                      std::vector<Started>* order) {
    for (const auto& [label, id] : batches) {
      ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
      for (const SessionRow& r : rows) {
        ASSERT_TRUE(r.started_at.has_value()) << label << " session " << r.id << " never started";
        order->push_back({label, r.ordinal, *r.started_at});
      }
    }
    std::sort(order->begin(), order->end(),
              [](const Started& a, const Started& b) { return a.started_at < b.started_at; });
    for (size_t i = 1; i < order->size(); ++i) {
      ASSERT_LT((*order)[i - 1].started_at, (*order)[i].started_at)
          << "two sessions started in the same millisecond with --slots 1: " << Describe(*order);
    }
  }
};

// Acceptance: 10,000 sleep-1-ms sessions, 8 slots, max_running 4. Sampled while it runs, the
// batch never has more than 4 sessions in progress, neither in the API's counters nor in the
// session rows; at the end every session is completed once and the counters equal the rows.
TEST_F(SchedulerTest, MaxRunningBoundsTenThousandSessionsAndAllComplete) {
  constexpr int64_t kSessions = 10'000;
  constexpr int64_t kMaxRunning = 4;
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "8"}));
  json batch = SleepBatch("ten-thousand", kSessions, 1);
  batch["max_running"] = kMaxRunning;
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));

  int64_t samples = 0, max_api = 0, max_rows = 0, max_counter = 0;
  std::string final_state;
  const auto deadline = std::chrono::steady_clock::now() + seconds(120);
  while (final_state != "completed") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the batch did not complete in 120 s; after " << samples << " samples";
    ASSERT_OK_AND_ASSIGN(json b, GetJson(client(), "/api/v1/batches/" + id));
    ASSERT_OK_AND_ASSIGN(InProgressSample db, SampleInProgress(daemon().db_path(), id));
    ASSERT_OK_AND_ASSIGN(json queue, GetJson(client(), "/api/v1/queue"));
    ++samples;
    const int64_t api = b["counts"]["in_progress"].get<int64_t>();
    max_api = std::max(max_api, api);
    max_rows = std::max(max_rows, db.rows);
    max_counter = std::max(max_counter, db.counter);
    ASSERT_LE(api, kMaxRunning) << "sample " << samples << ": " << b.dump();
    ASSERT_LE(db.rows, kMaxRunning) << "sample " << samples << ": session rows in_progress";
    ASSERT_LE(db.counter, kMaxRunning) << "sample " << samples << ": batch.n_in_progress";
    ASSERT_LE(queue["running"].get<int64_t>(), 8) << queue.dump();
    const json& c = b["counts"];
    ASSERT_EQ(c["uninitialized"].get<int64_t>() + c["in_progress"].get<int64_t>() +
                  c["completed"].get<int64_t>() + c["error"].get<int64_t>() +
                  c["canceled"].get<int64_t>(),
              kSessions)
        << b.dump();
    ASSERT_EQ(c["error"], 0) << b.dump();
    ASSERT_EQ(c["canceled"], 0) << b.dump();
    final_state = b["state"].get<std::string>();
    if (final_state != "completed") std::this_thread::sleep_for(milliseconds(5));
  }
  std::cout << "[ sampled  ] " << samples << " samples; most in progress seen: api " << max_api
            << ", rows " << max_rows << ", counter " << max_counter << "\n";
  EXPECT_GE(samples, 2) << "the batch finished before it could be sampled";
  EXPECT_GE(std::max({max_api, max_rows, max_counter}), 1) << "never saw a session in progress";

  ASSERT_OK_AND_ASSIGN(json done, GetJson(client(), "/api/v1/batches/" + id));
  EXPECT_EQ(done["counts"], (json{{"uninitialized", 0},
                                  {"in_progress", 0},
                                  {"completed", kSessions},
                                  {"error", 0},
                                  {"canceled", 0}}));
  EXPECT_FALSE(done["finished_at"].is_null()) << done.dump();

  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  ASSERT_EQ(audits.count(id), 1u);
  EXPECT_EQ(audits[id].counters, audits[id].rows);
  EXPECT_EQ(audits[id].rows, (StateCounts{0, 0, kSessions, 0, 0}));
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  ASSERT_EQ(rows.size(), static_cast<size_t>(kSessions));
  int64_t not_once = 0, without_state = 0;
  for (const SessionRow& r : rows) {
    if (r.attempts != 1) ++not_once;
    if (!r.has_execution_state || !r.finished_at) ++without_state;
  }
  EXPECT_EQ(not_once, 0) << "sessions started more than once (or never)";
  EXPECT_EQ(without_state, 0) << "completed sessions without a finished session_state row";

  ASSERT_OK_AND_ASSIGN(json queue, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(queue["counts"]["completed"], kSessions) << queue.dump();
  EXPECT_EQ(queue["counts"]["in_progress"], 0) << queue.dump();
  EXPECT_EQ(queue["slots"], 8) << queue.dump();
}

// max_running limits one batch, not the daemon: the slots it leaves free go to the next batch,
// even one of lower priority.
TEST_F(SchedulerTest, SlotsLeftByMaxRunningGoToOtherBatches) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "4"}));
  json capped = SleepBatch("capped", 5, 60'000);
  capped["priority"] = 10;
  capped["max_running"] = 1;
  ASSERT_OK_AND_ASSIGN(const std::string capped_id, SubmitBatch(client(), capped));
  ASSERT_OK_AND_ASSIGN(const std::string other_id,
                       SubmitBatch(client(), SleepBatch("other", 10, 60'000)));

  ASSERT_OK_AND_ASSIGN(
      json other,
      WaitForBatch(
          client(), other_id, [](const json& b) { return b["counts"]["in_progress"] == 3; },
          seconds(20), "to have 3 sessions in progress"));
  ASSERT_OK_AND_ASSIGN(json c, GetJson(client(), "/api/v1/batches/" + capped_id));
  EXPECT_EQ(c["counts"]["in_progress"], 1) << c.dump();
  EXPECT_EQ(c["state"], "running") << c.dump();
  ASSERT_OK_AND_ASSIGN(json queue, GetJson(client(), "/api/v1/queue"));
  EXPECT_EQ(queue["counts"]["in_progress"], 4) << queue.dump();
  EXPECT_EQ(queue["slots"], 4) << queue.dump();
  EXPECT_LE(queue["running"].get<int64_t>(), 4) << queue.dump();

  // Sleeps of a minute end at once when canceled.
  for (const std::string& id : {capped_id, other_id}) {
    ASSERT_OK_AND_ASSIGN(json canceled, PostJson(client(), "/api/v1/batches/" + id + "/cancel",
                                                 json::object(), 200));
    ASSERT_OK_AND_ASSIGN(json ended, WaitForBatchState(client(), id, "canceled", seconds(10)));
  }
}

// Acceptance: with one slot, a batch of higher priority submitted while an earlier batch runs
// takes the next slot, runs entirely, and only then does the earlier batch go on; each batch's
// sessions run in ordinal order.
TEST_F(SchedulerTest, HigherPriorityBatchSubmittedLaterRunsBeforeTheRestOfAnEarlierOne) {
  constexpr int64_t kEarly = 100, kLate = 10;
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "1"}));
  ASSERT_OK_AND_ASSIGN(const std::string early_id,
                       SubmitBatch(client(), SleepBatch("early", kEarly, 20)));
  ASSERT_OK_AND_ASSIGN(
      json started,
      WaitForBatch(
          client(), early_id, [](const json& b) { return b["counts"]["completed"] >= 3; },
          seconds(30), "to complete 3 sessions"));
  json late = SleepBatch("late", kLate, 3);
  late["priority"] = 5;
  ASSERT_OK_AND_ASSIGN(const std::string late_id, SubmitBatch(client(), late));
  // The premise: when the late batch was stored, the early one still had sessions waiting
  // (about 2 s of them). If this fails the machine was too slow for the test, not the daemon.
  ASSERT_OK_AND_ASSIGN(json early_now, GetJson(client(), "/api/v1/batches/" + early_id));
  ASSERT_GT(early_now["counts"]["uninitialized"].get<int64_t>(), 0) << early_now.dump();

  ASSERT_OK_AND_ASSIGN(json late_done,
                       WaitForBatchState(client(), late_id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(json early_done,
                       WaitForBatchState(client(), early_id, "completed", seconds(60)));

  std::vector<Started> order;
  ASSERT_NO_FATAL_FAILURE(ExecutionOrder({{"early", early_id}, {"late", late_id}}, &order));
  ASSERT_EQ(order.size(), static_cast<size_t>(kEarly + kLate));
  const auto first_late =
      std::find_if(order.begin(), order.end(), [](const Started& s) { return s.batch == "late"; });
  const size_t p = static_cast<size_t>(first_late - order.begin());
  // At least 3 early sessions had completed before the late batch existed ...
  EXPECT_GE(p, 3u) << Describe(order);
  // ... then the late batch, all of it, in ordinal order ...
  ASSERT_LE(p + kLate, order.size()) << Describe(order);
  for (size_t i = 0; i < kLate; ++i) {
    EXPECT_EQ(order[p + i].batch, "late") << "position " << p + i << ": " << Describe(order);
    EXPECT_EQ(order[p + i].ordinal, static_cast<int64_t>(i)) << Describe(order);
  }
  // ... and the early batch around it, in ordinal order, with some of it after the late one.
  EXPECT_LT(p + kLate, order.size()) << "nothing of the early batch ran after the late one";
  int64_t next_early = 0;
  for (const Started& s : order) {
    if (s.batch != "early") continue;
    EXPECT_EQ(s.ordinal, next_early) << Describe(order);
    ++next_early;
  }
}

// With the queue paused, four batches wait; on resume they run by priority (descending), equal
// priorities by age, and each batch's sessions in ordinal order, across two groups and runs.
TEST_F(SchedulerTest, ClaimOrderIsPriorityThenAgeThenOrdinal) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "1"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  json low = SleepBatch("low", 3, 3);
  json high_old = {
      {"name", "high-old"},
      {"priority", 5},
      {"runs", 2},
      {"template", {{"op", "sleep"}, {"ms", 3}, {"a", 0}, {"b", 0}}},
      {"data",
       {{{{"field", "/a"}, {"items", {0, 1}}}}, {{{"field", "/b"}, {"items", {"x", "y", "z"}}}}}}};
  json mid = SleepBatch("mid", 3, 3);
  mid["priority"] = 2;
  json high_new = SleepBatch("high-new", 4, 3);
  high_new["priority"] = 5;
  // Submitted in this order, so ages are low < high-old < mid < high-new.
  std::vector<std::pair<std::string, std::string>> batches;
  for (const auto& [label, doc] : std::vector<std::pair<std::string, json>>{
           {"low", low}, {"high-old", high_old}, {"mid", mid}, {"high-new", high_new}}) {
    ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), doc));
    batches.emplace_back(label, id);
  }
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  EXPECT_EQ(resumed["paused"], false) << resumed.dump();
  for (const auto& [label, id] : batches) {
    ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), id, "completed", seconds(30)));
  }

  std::vector<Started> order;
  ASSERT_NO_FATAL_FAILURE(ExecutionOrder(batches, &order));
  std::vector<std::pair<std::string, int64_t>> expected, got;
  for (int64_t o = 0; o < 12; ++o) expected.emplace_back("high-old", o);
  for (int64_t o = 0; o < 4; ++o) expected.emplace_back("high-new", o);
  for (int64_t o = 0; o < 3; ++o) expected.emplace_back("mid", o);
  for (int64_t o = 0; o < 3; ++o) expected.emplace_back("low", o);
  for (const Started& s : order) got.emplace_back(s.batch, s.ordinal);
  EXPECT_EQ(got, expected) << Describe(order);
}

// Acceptance (black-box half): a session that was never dequeued has no execution state, in
// the API or in the database; a dequeued one has the template with its values substituted.
TEST_F(SchedulerTest, ExecutionStateExistsOnlyOnceDequeuedAndHoldsSubstitutedValues) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  const json tmpl = {{"op", "sleep"},
                     {"ms", 60'000},
                     {"source", {{"url", "file:///data/a.zarr/t2m"}}},
                     {"params", {{"level", 0}}},
                     {"region", nullptr}};
  const json urls = {"file:///data/a.zarr/u10", "file:///data/b.zarr/sp"};
  const json levels = {850, 500.5};
  const json regions = {json::array({json::array({0, 8}), json::array({0, 16})}), nullptr, "all"};
  json batch = {{"name", "lazy"},
                {"runs", 2},
                {"max_running", 1},
                {"template", tmpl},
                {"data",
                 {{{{"field", "/source/url"}, {"items", urls}},
                   {{"field", "/params/level"}, {"items", levels}}},
                  {{{"field", "/region"}, {"items", regions}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_EQ(ids.size(), 12u);

  // max_running 1: the first session is dequeued (and sleeps a minute); the rest wait.
  ASSERT_OK_AND_ASSIGN(json first, WaitForSession(
                                       client(), ids[0],
                                       [](const json& s) {
                                         return s["state"] == "in_progress" &&
                                                !s["execution_state"].is_null();
                                       },
                                       seconds(20), "to be in progress with its execution state"));
  json expected_job = tmpl;
  expected_job["source"]["url"] = urls[0];
  expected_job["params"]["level"] = levels[0];
  expected_job["region"] = regions[0];
  const json& state = first["execution_state"];
  EXPECT_EQ(state["job"], expected_job) << first.dump();
  EXPECT_EQ(state["resolved"], (json{{"ms", 60'000}})) << first.dump();
  EXPECT_EQ(state["run"], 0) << first.dump();
  EXPECT_EQ(state["index"], json::array({0, 0})) << first.dump();
  EXPECT_EQ(first["attempts"], 1) << first.dump();
  EXPECT_TRUE(first["progress"].is_object()) << first.dump();

  for (size_t i = 1; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[i])));
    EXPECT_EQ(s["state"], "uninitialized") << s.dump();
    EXPECT_TRUE(s["execution_state"].is_null()) << s.dump();
    EXPECT_TRUE(s["progress"].is_null()) << s.dump();
    EXPECT_TRUE(s["result"].is_null()) << s.dump();
    EXPECT_TRUE(s["error"].is_null()) << s.dump();
  }
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), id));
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_TRUE(rows[0].has_execution_state);
  EXPECT_TRUE(rows[0].started_at.has_value());
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_FALSE(rows[i].has_state_row) << "session " << rows[i].id << " was never dequeued";
  }
  ASSERT_OK_AND_ASSIGN(int64_t state_rows, CountSessionStateRows(daemon().db_path()));
  EXPECT_EQ(state_rows, 1);

  // Cancel the minute-long sleep. (Retrying would reuse its stored state, sleep included, so
  // the substitution of every session is checked on a second, quick batch below.)
  ASSERT_OK_AND_ASSIGN(
      json canceled, PostJson(client(), "/api/v1/batches/" + id + "/cancel", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json ended, WaitForBatchState(client(), id, "canceled", seconds(10)));
  // Canceling never-dequeued sessions does not give them a state.
  ASSERT_OK_AND_ASSIGN(rows, ReadSessionRows(daemon().db_path(), id));
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_FALSE(rows[i].has_state_row) << rows[i].id;

  // Every session of a batch that runs to completion: its state is its own substitution.
  batch["name"] = "lazy-quick";
  batch["template"]["ms"] = 1;
  batch.erase("max_running");
  ASSERT_OK_AND_ASSIGN(const std::string quick_id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json quick, WaitForBatchState(client(), quick_id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> quick_ids, SessionIdsOf(client(), quick_id));
  ASSERT_EQ(quick_ids.size(), 12u);
  for (size_t o = 0; o < quick_ids.size(); ++o) {
    ASSERT_OK_AND_ASSIGN(json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(quick_ids[o])));
    const int64_t run = static_cast<int64_t>(o / 6), i0 = static_cast<int64_t>(o % 6 / 3),
                  i1 = static_cast<int64_t>(o % 3);
    json job = tmpl;
    job["ms"] = 1;
    job["source"]["url"] = urls[i0];
    job["params"]["level"] = levels[i0];
    job["region"] = regions[i1];
    SCOPED_TRACE(s.dump());
    EXPECT_EQ(s["state"], "completed");
    ASSERT_TRUE(s["execution_state"].is_object());
    EXPECT_EQ(s["execution_state"]["job"], job);
    EXPECT_EQ(s["execution_state"]["run"], run);
    EXPECT_EQ(s["execution_state"]["index"], json::array({i0, i1}));
    EXPECT_EQ(s["execution_state"]["run"], s["run"]);
    EXPECT_EQ(s["execution_state"]["index"], s["index"]);
  }
}

// A paused batch is never dequeued while other work runs; resumed, it is, with its values.
TEST_F(SchedulerTest, PausedBatchStaysUnmaterializedWhileOthersRun) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  json held = {{"name", "held"},
               {"template", {{"op", "sleep"}, {"ms", 1}, {"tag", "none"}}},
               {"data", {{{{"field", "/tag"}, {"items", {"alpha", "beta", "gamma"}}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string held_id, SubmitBatch(client(), held));
  ASSERT_OK_AND_ASSIGN(json paused, PostJson(client(), "/api/v1/batches/" + held_id + "/pause",
                                             json::object(), 200));
  EXPECT_EQ(paused["state"], "paused") << paused.dump();
  ASSERT_OK_AND_ASSIGN(const std::string busy_id, SubmitBatch(client(), SleepBatch("busy", 20, 1)));
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  // Once the other batch has run entirely, the scheduler has had every chance to claim.
  ASSERT_OK_AND_ASSIGN(json busy, WaitForBatchState(client(), busy_id, "completed", seconds(30)));

  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), held_id));
  ASSERT_EQ(ids.size(), 3u);
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    EXPECT_EQ(s["state"], "uninitialized") << s.dump();
    EXPECT_EQ(s["attempts"], 0) << s.dump();
    EXPECT_TRUE(s["execution_state"].is_null()) << s.dump();
  }
  ASSERT_OK_AND_ASSIGN(std::vector<SessionRow> rows, ReadSessionRows(daemon().db_path(), held_id));
  for (const SessionRow& r : rows) EXPECT_FALSE(r.has_state_row) << "session " << r.id;

  ASSERT_OK_AND_ASSIGN(json again, PostJson(client(), "/api/v1/batches/" + held_id + "/resume",
                                            json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), held_id, "completed", seconds(30)));
  const std::vector<std::string> tags = {"alpha", "beta", "gamma"};
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[i])));
    EXPECT_EQ(s["execution_state"]["job"], (json{{"op", "sleep"}, {"ms", 1}, {"tag", tags[i]}}))
        << s.dump();
  }
  ASSERT_OK_AND_ASSIGN(rows, ReadSessionRows(daemon().db_path(), held_id));
  for (const SessionRow& r : rows) {
    EXPECT_TRUE(r.has_execution_state) << "session " << r.id;
    EXPECT_TRUE(r.started_at.has_value()) << "session " << r.id;
  }
}

// Op members are checked at dequeue, since data items may set them: a bad `ms` fails that
// session (permanent, at once) and no other.
// A bad op member the op can check without I/O (sleep's ms) is refused at submit, naming the
// first bad data item, and nothing is stored (issue 10: it used to be a 201 and two sessions
// failing at dequeue). Members only a run can check (a chunk op's region against the array's
// metadata) still fail just their session: pipeline_bad_data_test.cpp.
TEST_F(SchedulerTest, BadOpMemberIsRefusedAtSubmitNamingTheItem) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2", "--retry-backoff-ms", "10"}));
  json batch = {{"name", "bad-ms"},
                {"template", {{"op", "sleep"}, {"ms", 1}}},
                {"data", {{{{"field", "/ms"}, {"items", {1, "soon", -5, 2}}}}}}};
  ASSERT_OK_AND_ASSIGN(HttpResponse r, client().Post("/api/v1/batches", batch.dump()));
  EXPECT_TRUE(IsApiError(r, 422, "invalid_batch", "/data/0/0/items/1"));
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("ms"), std::string::npos)
      << r.body;
  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  EXPECT_EQ(list["items"].size(), 0u) << list.dump();
}

}  // namespace
}  // namespace batchd::testing
