// Read-only views of a daemon's SQLite database, to check what the HTTP API cannot show: that a
// rejected request changed nothing, and that the per-batch counters equal the session rows.
// Each call opens its own read-only connection and closes it before returning (the database is
// in WAL mode, so this works while the daemon writes, and never blocks it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "core/status.h"

namespace batchd::testing {

// Enough of the database to tell whether anything was written.
struct DbFingerprint {
  int64_t batch_rows = 0;
  int64_t session_rows = 0;
  std::map<std::string, int64_t> meta;  // the whole meta table
  // AUTOINCREMENT high-water marks, except the event log's: events keep coming from whatever
  // else runs meanwhile (a batch submitted earlier executes), so it is not a sign of a write.
  std::map<std::string, int64_t> sqlite_sequence;
  // Batches announced or removed in the event log (batch.enqueued, batch.deleted): a refused
  // request must not add one. State, progress and session events are left out: the batches
  // already there run meanwhile and produce them.
  int64_t batch_lifecycle_events = 0;
  int64_t max_batch_id = 0;
  int64_t max_session_id = 0;

  friend bool operator==(const DbFingerprint&, const DbFingerprint&) = default;
  std::string ToString() const;
  friend void PrintTo(const DbFingerprint& f, std::ostream* os) { *os << f.ToString(); }
};

Result<DbFingerprint> FingerprintDb(const std::filesystem::path& db_path);

// Session counts per state, in the schema's state order (0 uninitialized .. 4 canceled).
struct StateCounts {
  int64_t uninitialized = 0;
  int64_t in_progress = 0;
  int64_t completed = 0;
  int64_t error = 0;
  int64_t canceled = 0;

  friend bool operator==(const StateCounts&, const StateCounts&) = default;
  std::string ToString() const;
  friend void PrintTo(const StateCounts& c, std::ostream* os) { *os << c.ToString(); }
};

// For one batch: what its row claims and what its session rows say.
struct BatchCounterAudit {
  int64_t session_count = 0;       // batch.session_count
  StateCounts counters;            // batch.n_* columns
  StateCounts rows;                // SELECT state, COUNT(*) FROM session ... GROUP BY state
  int64_t unknown_state_rows = 0;  // session rows whose state is outside 0..4
};

// Keyed by the batch's public id (what the API shows).
Result<std::map<std::string, BatchCounterAudit>> AuditBatchCounters(
    const std::filesystem::path& db_path);

// The saved checkpoint of every session that has one (session_state.checkpoint: JSON text),
// by session id: where a chunk session would resume.
Result<std::map<int64_t, std::string>> ReadCheckpoints(const std::filesystem::path& db_path);

// PRAGMA integrity_check's verdict: "ok", or the problems it lists (one per line).
Result<std::string> IntegrityCheck(const std::filesystem::path& db_path);

}  // namespace batchd::testing
