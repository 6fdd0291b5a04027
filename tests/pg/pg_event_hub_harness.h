// What the event hub's tests share: a fresh migrated database, a listener that records what it
// is handed, polling for a condition (no wall-clock bound: ctest's TIMEOUT is the hang guard),
// and rows to make events from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "storage/pg/pg_events.h"

namespace batchd::testing {

// A fresh database with the store's schema; "" (and a test failure) if none could be made.
std::string MigratedPgDatabaseUri();

// The hang guard of PollUntil: far beyond any wait a loaded machine makes (no test bounds
// time with it), short of the ctest TIMEOUT of a shard that runs many tests in one process.
inline constexpr std::chrono::seconds kPgPollGuard{300};

// Polls `condition` every few milliseconds until it holds (true); after kPgPollGuard, fails the
// test and answers false.
bool PollUntil(const std::function<bool()>& condition);

// Records every listener call and every remote stop.
class HubRecorder {
 public:
  storage::EventListener Listener();
  std::function<void(const storage::RemoteStop&)> StopHandler();

  std::vector<storage::EventRecord> Events() const;
  std::vector<storage::RemoteStop> Stops() const;
  size_t EventCount() const;
  // Calls of the listener that overlapped another (must stay 0).
  int overlapping_calls() const { return overlapping_.load(); }

 private:
  mutable Mutex mu_;
  std::vector<storage::EventRecord> events_ GUARDED_BY(mu_);
  std::vector<storage::RemoteStop> stops_ GUARDED_BY(mu_);
  std::atomic<int> in_call_{0};
  std::atomic<int> overlapping_{0};
};

// A hub on `uri` reporting to `recorder`, with `events` options (the defaults but for what the
// test sets). Fails the test and answers nullptr if it cannot start.
std::unique_ptr<storage::pg::PgEventHub> StartHub(const std::string& uri, HubRecorder& recorder,
                                                  storage::EventLogOptions events = {},
                                                  WallClock clock = UnixMillis,
                                                  SteadyClock steady = SteadyMillis);

// Inserts a batch row in `state` with `sessions` sessions of which `started` left
// uninitialized; answers its id.
int64_t InsertBatchRow(storage::pg::PgConnection& conn, const std::string& public_id,
                       const std::string& state, int64_t sessions, int64_t uninitialized);

// A session.state event of `batch` for session `session_id` (the test's marker).
storage::EventRecord MarkerEvent(const std::string& batch, int64_t session_id);

// Commits `events` in one transaction on `conn`.
void CommitEvents(storage::pg::PgConnection& conn, const std::vector<storage::EventRecord>& events);

// Every sequenced event, by ReadEvents pages from the start.
std::vector<storage::EventRecord> ReadAll(storage::pg::PgConnection& conn);

}  // namespace batchd::testing
