// Helpers for black-box tests of execution (docs/scheduler.md): batches of built-in ops,
// bounded waits on the REST API, and read-only looks at the rows the scheduler writes
// (session.state/attempts, session_state) that the API only summarizes.
//
// Every wait is bounded: it polls until a predicate holds or the timeout passes, and then fails
// with the last thing it saw, so a stuck daemon is a clear failure rather than a hung test.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/http_client.h"

namespace batchd::testing {

// A batch of `n` sessions of {"op": "sleep", "ms": ms, "n": i} (one group at "/n", items 0..n-1).
nlohmann::json SleepBatch(const std::string& name, int64_t n, int64_t ms);

// A batch of `n` sessions of {"op": "fail", "kind": kind, "message": message, "n": i} plus
// "until_attempt" when given (without it the op fails on every attempt).
nlohmann::json FailBatch(const std::string& name, int64_t n, const std::string& kind,
                         std::optional<int64_t> until_attempt, const std::string& message);

// POST /api/v1/batches; the new batch's id if the answer is 201.
Result<std::string> SubmitBatch(HttpClient& client, const nlohmann::json& batch);

// Polls GET /api/v1/batches/{id} until `done(batch)`; the batch that satisfied it. Fails with
// the last batch seen after `timeout`, naming `what` was awaited.
Result<nlohmann::json> WaitForBatch(HttpClient& client, const std::string& id,
                                    const std::function<bool(const nlohmann::json&)>& done,
                                    std::chrono::milliseconds timeout, std::string_view what);

// WaitForBatch until the batch's "state" is `state`.
Result<nlohmann::json> WaitForBatchState(HttpClient& client, const std::string& id,
                                         const std::string& state,
                                         std::chrono::milliseconds timeout);

// Polls GET /api/v1/sessions/{id} until `done(session)`; as WaitForBatch.
Result<nlohmann::json> WaitForSession(HttpClient& client, int64_t session_id,
                                      const std::function<bool(const nlohmann::json&)>& done,
                                      std::chrono::milliseconds timeout, std::string_view what);

Result<nlohmann::json> WaitForSessionState(HttpClient& client, int64_t session_id,
                                           const std::string& state,
                                           std::chrono::milliseconds timeout);

// Polls GET `target` until `done(body)` (a 200 with a JSON body); as WaitForBatch.
Result<nlohmann::json> WaitForJson(HttpClient& client, std::string_view target,
                                   const std::function<bool(const nlohmann::json&)>& done,
                                   std::chrono::milliseconds timeout, std::string_view what);

// Submits `batch` (one session), waits up to `timeout` for it to complete or fail, and answers
// GET /api/v1/sessions/{id} of its session.
Result<nlohmann::json> RunSingleSessionBatch(HttpClient& client, const nlohmann::json& batch,
                                             std::chrono::milliseconds timeout);

// Polls GET /healthz, whatever its status (a degraded store answers 503), until `done` holds
// on {"http": status, "body": the JSON body}; that document. As WaitForBatch.
Result<nlohmann::json> WaitForHealth(HttpClient& client,
                                     const std::function<bool(const nlohmann::json&)>& done,
                                     std::chrono::milliseconds timeout, std::string_view what);

// The ids of a batch's sessions in ordinal order (every page of GET .../sessions).
Result<std::vector<int64_t>> SessionIdsOf(HttpClient& client, const std::string& batch_id);

// A session's row and its session_state row (if any), straight from the database.
struct SessionRow {
  int64_t id = 0;
  int64_t ordinal = 0;
  int64_t state = 0;  // 0 uninitialized .. 4 canceled, as stored
  int64_t attempts = 0;
  std::optional<int64_t> not_before;
  bool has_state_row = false;        // a session_state row exists
  bool has_execution_state = false;  // ... and its `state` blob is not NULL
  std::optional<int64_t> started_at;
  std::optional<int64_t> finished_at;
  std::optional<std::string> error_kind;
  std::optional<std::string> error_message;
};

// Every session of the batch with public id `batch_id`, in id (= ordinal) order, read in one
// snapshot over a read-only connection. kNotFound if the batch has no row.
Result<std::vector<SessionRow>> ReadSessionRows(const std::filesystem::path& db_path,
                                                const std::string& batch_id);

// What one sample of a running batch sees in the database, in one snapshot: the number of its
// session rows with state = 1 and the batch row's n_in_progress counter.
struct InProgressSample {
  int64_t rows = 0;
  int64_t counter = 0;
};
Result<InProgressSample> SampleInProgress(const std::filesystem::path& db_path,
                                          const std::string& batch_id);

// The number of session_state rows in the whole database.
Result<int64_t> CountSessionStateRows(const std::filesystem::path& db_path);

}  // namespace batchd::testing
