// Many `batchd serve` nodes on one PostgreSQL database (docs/scale-out.md), for the scale-out
// tests: each node has its own data dir (its port file and log) and --node-name, and can be
// killed and started again under the same name. Plus what these tests read to judge a run: the
// stored event log over REST, and the database's own rows (counters against COUNT(*), the node
// table) over a PgConnection.
//
// A ClusterNode stops its daemon when destroyed (DaemonProcess does), so a failed assertion
// leaks no process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace batchd::storage::pg {
class PgConnection;
}

namespace batchd::testing {

// How every node of a test cluster is started.
struct ClusterOptions {
  std::filesystem::path binary;
  std::string store;  // postgresql://... shared by all nodes
  // Flags every node gets (e.g. --slots, --node-timeout-ms), after the store and the name.
  std::vector<std::string> extra_args;
};

class ClusterNode {
 public:
  ClusterNode(ClusterOptions options, std::string name);

  // Starts the daemon (again, after Kill or Stop) in the same data dir under the same name.
  Status Start();
  // SIGKILL: no clean-up, its node row stays alive until another node declares it dead.
  void Kill();
  // SIGTERM and wait; an error if it had to be SIGKILLed.
  Status Stop();

  bool running() const { return daemon_ != nullptr && daemon_->running(); }
  const std::string& name() const { return name_; }
  // Valid while running(); a new client after every Start (the port changes).
  HttpClient& client() { return *client_; }
  DaemonProcess& daemon() { return *daemon_; }
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  ClusterOptions options_;
  std::string name_;
  TempDir dir_;  // declared before daemon_: outlives it
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<HttpClient> client_;
};

// Every stored event matching `query` (e.g. "batch=ID&types=session.state"; may be empty) with
// a seq above `since`, read page by page from GET /api/v1/events until `more` is false. Fails on
// a `resync` (events were deleted) or a page that does not parse.
Result<std::vector<nlohmann::json>> ReadEventLog(HttpClient& client, const std::string& query,
                                                 int64_t since = 0);

// What the session.state events of one batch say happened to each session.
struct SessionHistory {
  std::vector<nlohmann::json> events;  // in seq order
  int completions = 0;                 // events with to = "completed"
};
std::map<int64_t, SessionHistory> SessionHistories(const std::vector<nlohmann::json>& events);

// Empty if the histories show every session of `session_ids` completed exactly once, last, with
// attempts that never go down and a completion whose attempt is that of the latest claim;
// otherwise the first few problems, one a line.
std::string ExactlyOnceProblems(const std::map<int64_t, SessionHistory>& histories,
                                const std::vector<int64_t>& session_ids);

// Empty if the batch row's n_* counters equal COUNT(*) of its session rows per state (read in
// one snapshot of the database at `store_uri`); otherwise what differs.
Result<std::string> CounterMismatch(const std::string& store_uri, const std::string& batch_id);

// The node table, by id.
struct NodeRow {
  int64_t id = 0;
  std::string name;
  std::string state;  // alive | dead | stopped
  std::optional<int64_t> rescued_by;
  std::optional<int64_t> rescued;
};
Result<std::vector<NodeRow>> ReadNodeRows(const std::string& store_uri);

// Sessions of the batch in state 1 (in_progress) that belong to no alive node (node_id NULL or
// a dead/stopped node), read from the database: after a rescue there must be none.
Result<int64_t> OrphanedInProgress(const std::string& store_uri, const std::string& batch_id);

// The name of the node running session `session_id` (state 1), from the database; kNotFound if
// it is not in progress.
Result<std::string> SessionNodeName(const std::string& store_uri, int64_t session_id);

// The name of a node running a session of the batch (state 1) now, if any.
Result<std::optional<std::string>> NodeRunningBatch(const std::string& store_uri,
                                                    const std::string& batch_id);

// Sessions in state 1 belonging to the node rows named `node_name` (all its incarnations).
Result<int64_t> InProgressOnNode(const std::string& store_uri, const std::string& node_name);

// The batch's session rows in state 1 (not its counter): what max_running bounds. The second
// form reuses a connection, for samplers that ask many times a second.
Result<int64_t> InProgressRows(const std::string& store_uri, const std::string& batch_id);
Result<int64_t> InProgressRows(storage::pg::PgConnection& conn, const std::string& batch_id);

// Polls GET /api/v1/nodes on `client` until `done(items)` holds; the items. Fails after
// `timeout` with the last answer.
Result<nlohmann::json> WaitForNodes(HttpClient& client,
                                    const std::function<bool(const nlohmann::json&)>& done,
                                    std::chrono::milliseconds timeout, std::string_view what);

// Polls GET /api/v1/batches/{id} every `interval` until `done(batch)`; the batch. Slower than
// WaitForBatch (tests/support/scheduler_helpers.h), so a wait of minutes leaves the machine to
// the nodes. Fails after `timeout` with the last answer.
Result<nlohmann::json> PollBatch(
    HttpClient& client, const std::string& id,
    const std::function<bool(const nlohmann::json&)>& done, std::chrono::milliseconds timeout,
    std::string_view what, std::chrono::milliseconds interval = std::chrono::milliseconds(100));

// A seed from BATCHD_TEST_SEED if set (to replay a run), otherwise a random one; the caller
// prints it.
uint64_t TestSeed();

}  // namespace batchd::testing
