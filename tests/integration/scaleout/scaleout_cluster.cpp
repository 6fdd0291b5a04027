#include "tests/integration/scaleout/scaleout_cluster.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>

#include "storage/pg/pg_connection.h"

namespace batchd::testing {
namespace {

using storage::pg::PgConnection;
using storage::pg::PgParam;
using storage::pg::PgResult;

constexpr const char* kStateNames[] = {"uninitialized", "in_progress", "completed", "error",
                                       "canceled"};

// A member as text or a number, whatever it holds (null, missing): for messages and for
// comparisons that must not throw on a malformed event.
std::string Text(const nlohmann::json& e, const char* key) {
  if (!e.contains(key)) return "?";
  return e[key].is_string() ? e[key].get<std::string>() : e[key].dump();
}
int64_t Number(const nlohmann::json& e, const char* key) {
  return e.contains(key) && e[key].is_number_integer() ? e[key].get<int64_t>() : -1;
}

}  // namespace

ClusterNode::ClusterNode(ClusterOptions options, std::string name)
    : options_(std::move(options)), name_(std::move(name)) {}

Status ClusterNode::Start() {
  if (running()) return Status::FailedPrecondition(name_ + " is already running");
  DaemonOptions options;
  options.binary = options_.binary;
  options.data_dir = dir_.path();
  options.store = options_.store;
  options.node_name = name_;
  options.extra_args = options_.extra_args;
  daemon_.reset();  // the previous process is reaped; its log stays in the data dir
  ASSIGN_OR_RETURN(daemon_, DaemonProcess::Start(std::move(options)));
  client_ = std::make_unique<HttpClient>(daemon_->port());
  return Status::Ok();
}

void ClusterNode::Kill() {
  if (daemon_ != nullptr) daemon_->Kill();
}

Status ClusterNode::Stop() {
  if (daemon_ == nullptr) return Status::Ok();
  ASSIGN_OR_RETURN(ExitStatus exit, daemon_->Stop());
  if (!exit.CleanExit()) return Status::IoError(name_ + " stopped with " + exit.ToString());
  return Status::Ok();
}

std::string ClusterNode::LogTail(size_t max_bytes) const {
  // From the file, not the DaemonProcess: a daemon that failed to start has none left.
  std::ifstream in(dir_.path() / "batchd.log", std::ios::binary);
  if (!in) return "(no log)";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

Result<std::vector<nlohmann::json>> ReadEventLog(HttpClient& client, const std::string& query,
                                                 int64_t since) {
  std::vector<nlohmann::json> events;
  std::string cursor = std::to_string(since);
  for (;;) {
    std::string target = "/api/v1/events?limit=1000&since=" + cursor;
    if (!query.empty()) target += "&" + query;
    ASSIGN_OR_RETURN(HttpResponse r, client.Get(target));
    nlohmann::json page = r.Json();
    if (r.status != 200 || page.is_discarded() || !page.contains("items")) {
      return Status::IoError("GET " + target + ": " + r.Describe());
    }
    if (page.value("resync", false)) {
      return Status::IoError("GET " + target + " answered resync: events were deleted");
    }
    for (auto& e : page["items"]) events.push_back(std::move(e));
    if (!page.value("more", false)) break;
    if (!page["next_cursor"].is_string() || page["next_cursor"] == cursor) {
      return Status::IoError("GET " + target + ": more, but no new cursor: " + r.Describe());
    }
    cursor = page["next_cursor"].get<std::string>();
  }
  return events;
}

std::map<int64_t, SessionHistory> SessionHistories(const std::vector<nlohmann::json>& events) {
  std::map<int64_t, SessionHistory> histories;
  for (const nlohmann::json& e : events) {
    if (Text(e, "type") != "session.state" || Number(e, "session") < 0) continue;
    SessionHistory& h = histories[Number(e, "session")];
    h.events.push_back(e);
    if (Text(e, "to") == "completed") ++h.completions;
  }
  return histories;
}

std::string ExactlyOnceProblems(const std::map<int64_t, SessionHistory>& histories,
                                const std::vector<int64_t>& session_ids) {
  std::ostringstream problems;
  int shown = 0;
  auto problem = [&](int64_t id, const std::string& what, const SessionHistory* h) {
    if (++shown > 10) return;
    problems << "session " << id << ": " << what;
    if (h != nullptr) {
      problems << " [";
      for (const nlohmann::json& e : h->events) {
        problems << " " << Text(e, "from") << "->" << Text(e, "to") << "#" << Number(e, "attempt")
                 << "@" << Number(e, "seq");
      }
      problems << " ]";
    }
    problems << "\n";
  };
  for (int64_t id : session_ids) {
    auto it = histories.find(id);
    if (it == histories.end()) {
      problem(id, "no session.state event at all", nullptr);
      continue;
    }
    const SessionHistory& h = it->second;
    if (h.completions != 1) {
      problem(id, "completed " + std::to_string(h.completions) + " times", &h);
      continue;
    }
    if (Text(h.events.back(), "to") != "completed") {
      problem(id, "a transition after its completion", &h);
      continue;
    }
    // Every claim (to in_progress) counts an attempt, a rescue keeps it: the attempts of the
    // claims go strictly up, and the completion is the latest claim's. A completion written by
    // a node that had lost the session would carry an earlier claim's attempt (or come second).
    int64_t last_claim = 0;
    for (const nlohmann::json& e : h.events) {
      const int64_t attempt = Number(e, "attempt");
      if (Text(e, "to") == "in_progress") {
        if (attempt <= last_claim) {
          problem(id, "a claim whose attempt did not go up", &h);
          break;
        }
        last_claim = attempt;
      } else if (Text(e, "to") == "completed" && attempt != last_claim) {
        problem(id,
                "completed with attempt " + std::to_string(attempt) + ", latest claim " +
                    std::to_string(last_claim),
                &h);
        break;
      }
    }
  }
  if (shown > 10) problems << "... " << (shown - 10) << " more\n";
  return problems.str();
}

Result<std::string> CounterMismatch(const std::string& store_uri, const std::string& batch_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  // One snapshot for the counters and the rows.
  RETURN_IF_ERROR(conn->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  ASSIGN_OR_RETURN(PgResult batch,
                   conn->Exec("SELECT id, n_uninitialized, n_in_progress, n_completed, n_error, "
                              "n_canceled, session_count FROM batch WHERE public_id = $1",
                              {PgParam::Text(batch_id)}));
  if (batch.rows() != 1) return Status::NotFound("no batch row for " + batch_id);
  ASSIGN_OR_RETURN(PgResult rows,
                   conn->Exec("SELECT state, count(*) FROM session WHERE batch_id = $1 "
                              "GROUP BY state",
                              {PgParam::Int(batch.Int(0, 0))}));
  RETURN_IF_ERROR(conn->Run("COMMIT"));
  int64_t counted[5] = {0, 0, 0, 0, 0};
  int64_t total = 0;
  std::ostringstream out;
  for (int r = 0; r < rows.rows(); ++r) {
    const int64_t state = rows.Int(r, 0);
    total += rows.Int(r, 1);
    if (state < 0 || state > 4) {
      out << "session rows in unknown state " << state << "\n";
      continue;
    }
    counted[state] = rows.Int(r, 1);
  }
  for (int s = 0; s < 5; ++s) {
    if (batch.Int(0, 1 + s) != counted[s]) {
      out << "n_" << kStateNames[s] << " = " << batch.Int(0, 1 + s) << " but " << counted[s]
          << " rows\n";
    }
  }
  if (total != batch.Int(0, 6)) {
    out << "session_count = " << batch.Int(0, 6) << " but " << total << " rows\n";
  }
  return out.str();
}

Result<std::vector<NodeRow>> ReadNodeRows(const std::string& store_uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  ASSIGN_OR_RETURN(PgResult rows,
                   conn->Exec("SELECT id, name, state, rescued_by, rescued FROM node ORDER BY id"));
  std::vector<NodeRow> nodes;
  for (int r = 0; r < rows.rows(); ++r) {
    nodes.push_back({.id = rows.Int(r, 0),
                     .name = std::string(rows.Text(r, 1)),
                     .state = std::string(rows.Text(r, 2)),
                     .rescued_by = rows.OptionalInt(r, 3),
                     .rescued = rows.OptionalInt(r, 4)});
  }
  return nodes;
}

Result<int64_t> OrphanedInProgress(const std::string& store_uri, const std::string& batch_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("SELECT count(*) FROM session s JOIN batch b ON b.id = s.batch_id "
                 "LEFT JOIN node n ON n.id = s.node_id "
                 "WHERE b.public_id = $1 AND s.state = 1 AND (n.id IS NULL OR n.state <> 'alive')",
                 {PgParam::Text(batch_id)}));
  return r.Int(0, 0);
}

Result<std::string> SessionNodeName(const std::string& store_uri, int64_t session_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT n.name FROM session s JOIN node n ON "
                                          "n.id = s.node_id WHERE s.id = $1 AND s.state = 1",
                                          {PgParam::Int(session_id)}));
  if (r.rows() != 1)
    return Status::NotFound("session " + std::to_string(session_id) +
                            " is not in progress on a node");
  return std::string(r.Text(0, 0));
}

Result<std::optional<std::string>> NodeRunningBatch(const std::string& store_uri,
                                                    const std::string& batch_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  ASSIGN_OR_RETURN(PgResult r,
                   conn->Exec("SELECT n.name FROM session s JOIN batch b ON b.id = s.batch_id "
                              "JOIN node n ON n.id = s.node_id "
                              "WHERE b.public_id = $1 AND s.state = 1 LIMIT 1",
                              {PgParam::Text(batch_id)}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(r.Text(0, 0)));
}

Result<int64_t> InProgressOnNode(const std::string& store_uri, const std::string& node_name) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT count(*) FROM session s JOIN node n ON "
                                          "n.id = s.node_id WHERE n.name = $1 AND s.state = 1",
                                          {PgParam::Text(node_name)}));
  return r.Int(0, 0);
}

Result<int64_t> InProgressRows(PgConnection& conn, const std::string& batch_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT count(*) FROM session s JOIN batch b ON b.id = s.batch_id "
                             "WHERE b.public_id = $1 AND s.state = 1",
                             {PgParam::Text(batch_id)}));
  return r.Int(0, 0);
}

Result<int64_t> InProgressRows(const std::string& store_uri, const std::string& batch_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Open(store_uri));
  return InProgressRows(*conn, batch_id);
}

Result<nlohmann::json> WaitForNodes(HttpClient& client,
                                    const std::function<bool(const nlohmann::json&)>& done,
                                    std::chrono::milliseconds timeout, std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "(nothing)";
  for (;;) {
    Result<HttpResponse> r = client.Get("/api/v1/nodes");
    if (r.ok()) {
      nlohmann::json body = r->Json();
      if (r->status == 200 && !body.is_discarded() && body["items"].is_array()) {
        if (done(body["items"])) return body["items"];
      }
      last = r->Describe();
    } else {
      last = r.status().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("timed out waiting for " + std::string(what) +
                                 "; last GET /api/v1/nodes: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<nlohmann::json> PollBatch(HttpClient& client, const std::string& id,
                                 const std::function<bool(const nlohmann::json&)>& done,
                                 std::chrono::milliseconds timeout, std::string_view what,
                                 std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "(nothing)";
  for (;;) {
    Result<HttpResponse> r = client.Get("/api/v1/batches/" + id);
    if (r.ok()) {
      nlohmann::json body = r->Json();
      if (r->status == 200 && !body.is_discarded() && done(body)) return body;
      last = r->Describe();
    } else {
      last = r.status().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("timed out waiting for " + std::string(what) +
                                 "; last GET of the batch: " + last);
    }
    std::this_thread::sleep_for(interval);
  }
}

uint64_t TestSeed() {
  if (const char* s = std::getenv("BATCHD_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

}  // namespace batchd::testing
