#include "tests/support/scheduler_helpers.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <exception>
#include <thread>

#include "tests/support/api_calls.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

// Between two polls: short enough that a wait ends soon after its condition holds, long
// enough not to keep a 2-core machine busy answering the test instead of running sessions.
constexpr auto kPollInterval = std::chrono::milliseconds(2);

json Counting(int64_t n) {
  json items = json::array();
  for (int64_t i = 0; i < n; ++i) items.push_back(i);
  return items;
}

// Polls `fetch` until `done` holds on its value or `timeout` passes. A failed fetch is kept as
// the last thing seen and retried, since a daemon under load may answer one request late.
Result<json> Poll(const std::function<Result<json>()>& fetch,
                  const std::function<bool(const json&)>& done, std::chrono::milliseconds timeout,
                  std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "(nothing yet)";
  for (;;) {
    Result<json> got = fetch();
    if (got.ok()) {
      if (done(*got)) return got;
      last = got->dump();
    } else {
      last = got.status().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("timed out after " + std::to_string(timeout.count()) +
                                 " ms waiting for " + std::string(what) + "; last seen: " + last);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// SQLiteCpp reports errors by exception; they stop here and become a Status.
template <typename Fn>
auto ReadOnly(const std::filesystem::path& db_path, Fn fn)
    -> decltype(fn(std::declval<SQLite::Database&>())) {
  try {
    SQLite::Database db(db_path.string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(10000);
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    return fn(db);
  } catch (const std::exception& e) {
    return Status::IoError("reading " + db_path.string() + ": " + e.what());
  }
}

struct BatchRange {
  int64_t id = 0;
  int64_t first = 0;
  int64_t end = 0;  // one past the last session id
};

Result<BatchRange> FindBatch(SQLite::Database& db, const std::string& batch_id) {
  SQLite::Statement q(db,
                      "SELECT id, first_session_id, session_count FROM batch WHERE public_id = ?");
  q.bind(1, batch_id);
  if (!q.executeStep()) return Status::NotFound("no batch row with public_id " + batch_id);
  const int64_t first = q.getColumn(1).getInt64();
  return BatchRange{q.getColumn(0).getInt64(), first, first + q.getColumn(2).getInt64()};
}

template <typename T>
std::optional<T> Optional(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    return c.getString();
  } else {
    return c.getInt64();
  }
}

}  // namespace

json SleepBatch(const std::string& name, int64_t n, int64_t ms) {
  return {{"name", name},
          {"template", {{"op", "sleep"}, {"ms", ms}, {"n", 0}}},
          {"data", {{{{"field", "/n"}, {"items", Counting(n)}}}}}};
}

json FailBatch(const std::string& name, int64_t n, const std::string& kind,
               std::optional<int64_t> until_attempt, const std::string& message) {
  json job = {{"op", "fail"}, {"kind", kind}, {"message", message}, {"n", 0}};
  if (until_attempt) job["until_attempt"] = *until_attempt;
  return {{"name", name},
          {"template", std::move(job)},
          {"data", {{{{"field", "/n"}, {"items", Counting(n)}}}}}};
}

Result<std::string> SubmitBatch(HttpClient& client, const json& batch) {
  ASSIGN_OR_RETURN(json created, PostJson(client, "/api/v1/batches", batch, 201));
  if (!created.contains("id") || !created["id"].is_string()) {
    return Status::Malformed("POST /api/v1/batches: no string id in " + created.dump());
  }
  return created["id"].get<std::string>();
}

Result<json> WaitForBatch(HttpClient& client, const std::string& id,
                          const std::function<bool(const json&)>& done,
                          std::chrono::milliseconds timeout, std::string_view what) {
  const std::string target = "/api/v1/batches/" + id;
  return Poll([&] { return GetJson(client, target); }, done, timeout,
              "batch " + id + " " + std::string(what));
}

Result<json> WaitForBatchState(HttpClient& client, const std::string& id, const std::string& state,
                               std::chrono::milliseconds timeout) {
  return WaitForBatch(
      client, id, [&](const json& b) { return b.value("state", "") == state; }, timeout,
      "to be " + state);
}

Result<json> WaitForSession(HttpClient& client, int64_t session_id,
                            const std::function<bool(const json&)>& done,
                            std::chrono::milliseconds timeout, std::string_view what) {
  const std::string target = "/api/v1/sessions/" + std::to_string(session_id);
  return Poll([&] { return GetJson(client, target); }, done, timeout,
              "session " + std::to_string(session_id) + " " + std::string(what));
}

Result<json> WaitForSessionState(HttpClient& client, int64_t session_id, const std::string& state,
                                 std::chrono::milliseconds timeout) {
  return WaitForSession(
      client, session_id, [&](const json& s) { return s.value("state", "") == state; }, timeout,
      "to be " + state);
}

Result<json> WaitForJson(HttpClient& client, std::string_view target,
                         const std::function<bool(const json&)>& done,
                         std::chrono::milliseconds timeout, std::string_view what) {
  const std::string path(target);
  return Poll([&] { return GetJson(client, path); }, done, timeout, what);
}

Result<json> WaitForHealth(HttpClient& client, const std::function<bool(const json&)>& done,
                           std::chrono::milliseconds timeout, std::string_view what) {
  auto fetch = [&]() -> Result<json> {
    ASSIGN_OR_RETURN(HttpResponse r, client.Get("/healthz"));
    json body = r.Json();
    if (body.is_discarded()) return Status::Malformed("/healthz answered " + r.Describe());
    return json{{"http", r.status}, {"body", std::move(body)}};
  };
  return Poll(fetch, done, timeout, what);
}

Result<nlohmann::json> RunSingleSessionBatch(HttpClient& client, const nlohmann::json& batch,
                                             std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::string id, SubmitBatch(client, batch));
  RETURN_IF_ERROR(WaitForBatch(
                      client, id,
                      [](const nlohmann::json& b) {
                        return b["state"] == "failed" || b["state"] == "completed";
                      },
                      timeout, "the batch to end")
                      .status());
  ASSIGN_OR_RETURN(std::vector<int64_t> ids, SessionIdsOf(client, id));
  if (ids.size() != 1) {
    return Status::FailedPrecondition("batch " + id + " has " + std::to_string(ids.size()) +
                                      " sessions, not one");
  }
  return GetJson(client, "/api/v1/sessions/" + std::to_string(ids[0]));
}

Result<std::vector<int64_t>> SessionIdsOf(HttpClient& client, const std::string& batch_id) {
  ASSIGN_OR_RETURN(Pages pages, FetchAllPages(client, "/api/v1/batches/" + batch_id + "/sessions",
                                              "limit=1000"));
  std::vector<int64_t> ids;
  for (const json& s : pages.items) {
    if (!s.contains("id") || !s["id"].is_number_integer()) {
      return Status::Malformed("a session without an integer id: " + s.dump());
    }
    ids.push_back(s["id"].get<int64_t>());
  }
  return ids;
}

Result<std::vector<SessionRow>> ReadSessionRows(const std::filesystem::path& db_path,
                                                const std::string& batch_id) {
  return ReadOnly(db_path, [&](SQLite::Database& db) -> Result<std::vector<SessionRow>> {
    ASSIGN_OR_RETURN(BatchRange range, FindBatch(db, batch_id));
    SQLite::Statement q(db,
                        "SELECT s.id, s.ordinal, s.state, s.attempts, s.not_before, "
                        "st.session_id IS NOT NULL, st.state IS NOT NULL, st.started_at, "
                        "st.finished_at, st.error_kind, st.error_message "
                        "FROM session s LEFT JOIN session_state st ON st.session_id = s.id "
                        "WHERE s.id >= ? AND s.id < ? ORDER BY s.id");
    q.bind(1, range.first);
    q.bind(2, range.end);
    std::vector<SessionRow> rows;
    while (q.executeStep()) {
      SessionRow r;
      r.id = q.getColumn(0).getInt64();
      r.ordinal = q.getColumn(1).getInt64();
      r.state = q.getColumn(2).getInt64();
      r.attempts = q.getColumn(3).getInt64();
      r.not_before = Optional<int64_t>(q.getColumn(4));
      r.has_state_row = q.getColumn(5).getInt() != 0;
      r.has_execution_state = q.getColumn(6).getInt() != 0;
      r.started_at = Optional<int64_t>(q.getColumn(7));
      r.finished_at = Optional<int64_t>(q.getColumn(8));
      r.error_kind = Optional<std::string>(q.getColumn(9));
      r.error_message = Optional<std::string>(q.getColumn(10));
      rows.push_back(std::move(r));
    }
    return rows;
  });
}

Result<InProgressSample> SampleInProgress(const std::filesystem::path& db_path,
                                          const std::string& batch_id) {
  return ReadOnly(db_path, [&](SQLite::Database& db) -> Result<InProgressSample> {
    ASSIGN_OR_RETURN(BatchRange range, FindBatch(db, batch_id));
    SQLite::Statement rows(db,
                           "SELECT COUNT(*) FROM session WHERE id >= ? AND id < ? AND state = 1");
    rows.bind(1, range.first);
    rows.bind(2, range.end);
    rows.executeStep();
    SQLite::Statement counter(db, "SELECT n_in_progress FROM batch WHERE id = ?");
    counter.bind(1, range.id);
    counter.executeStep();
    return InProgressSample{rows.getColumn(0).getInt64(), counter.getColumn(0).getInt64()};
  });
}

Result<int64_t> CountSessionStateRows(const std::filesystem::path& db_path) {
  return ReadOnly(db_path, [](SQLite::Database& db) -> Result<int64_t> {
    return db.execAndGet("SELECT COUNT(*) FROM session_state").getInt64();
  });
}

}  // namespace batchd::testing
