#include "tests/support/db_inspector.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <exception>
#include <utility>

namespace batchd::testing {
namespace {

// SQLiteCpp reports errors by exception; they stop here and become a Status.
template <typename Fn>
auto Guarded(const std::filesystem::path& db_path, Fn fn)
    -> decltype(fn(std::declval<SQLite::Database&>())) {
  try {
    SQLite::Database db(db_path.string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(10000);
    return fn(db);
  } catch (const std::exception& e) {
    return Status::IoError("reading " + db_path.string() + ": " + e.what());
  }
}

std::map<std::string, int64_t> ReadKeyValues(SQLite::Database& db, const char* sql) {
  std::map<std::string, int64_t> out;
  SQLite::Statement query(db, sql);
  while (query.executeStep()) out[query.getColumn(0).getString()] = query.getColumn(1).getInt64();
  return out;
}

void AddToState(StateCounts& counts, int64_t state, int64_t n, int64_t& unknown) {
  switch (state) {
    case 0:
      counts.uninitialized += n;
      break;
    case 1:
      counts.in_progress += n;
      break;
    case 2:
      counts.completed += n;
      break;
    case 3:
      counts.error += n;
      break;
    case 4:
      counts.canceled += n;
      break;
    default:
      unknown += n;
      break;
  }
}

}  // namespace

std::string DbFingerprint::ToString() const {
  std::string out = "batch_rows=" + std::to_string(batch_rows) +
                    " session_rows=" + std::to_string(session_rows) +
                    " max_batch_id=" + std::to_string(max_batch_id) +
                    " max_session_id=" + std::to_string(max_session_id) + " meta={";
  for (const auto& [k, v] : meta) out += k + "=" + std::to_string(v) + " ";
  out += "} sqlite_sequence={";
  for (const auto& [k, v] : sqlite_sequence) out += k + "=" + std::to_string(v) + " ";
  return out + "} batch_lifecycle_events=" + std::to_string(batch_lifecycle_events);
}

std::string StateCounts::ToString() const {
  return "{uninitialized=" + std::to_string(uninitialized) +
         " in_progress=" + std::to_string(in_progress) + " completed=" + std::to_string(completed) +
         " error=" + std::to_string(error) + " canceled=" + std::to_string(canceled) + "}";
}

Result<DbFingerprint> FingerprintDb(const std::filesystem::path& db_path) {
  return Guarded(db_path, [](SQLite::Database& db) -> Result<DbFingerprint> {
    // One read transaction, so the figures are one consistent snapshot.
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    DbFingerprint fp;
    fp.batch_rows = db.execAndGet("SELECT COUNT(*) FROM batch").getInt64();
    fp.session_rows = db.execAndGet("SELECT COUNT(*) FROM session").getInt64();
    fp.max_batch_id = db.execAndGet("SELECT COALESCE(MAX(id), 0) FROM batch").getInt64();
    fp.max_session_id = db.execAndGet("SELECT COALESCE(MAX(id), 0) FROM session").getInt64();
    fp.meta = ReadKeyValues(db, "SELECT key, value FROM meta");
    if (db.tableExists("sqlite_sequence")) {
      fp.sqlite_sequence =
          ReadKeyValues(db, "SELECT name, seq FROM sqlite_sequence WHERE name != 'event'");
    }
    if (db.tableExists("event")) {
      fp.batch_lifecycle_events =
          db.execAndGet(
                "SELECT count(*) FROM event WHERE type IN ('batch.enqueued', "
                "'batch.deleted')")
              .getInt64();
    }
    return fp;
  });
}

Result<std::map<std::string, BatchCounterAudit>> AuditBatchCounters(
    const std::filesystem::path& db_path) {
  using Audits = std::map<std::string, BatchCounterAudit>;
  return Guarded(db_path, [](SQLite::Database& db) -> Result<Audits> {
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    Audits audits;
    std::map<int64_t, std::string> public_ids;
    SQLite::Statement batches(db,
                              "SELECT id, public_id, session_count, n_uninitialized, "
                              "n_in_progress, n_completed, n_error, n_canceled FROM batch");
    while (batches.executeStep()) {
      std::string public_id = batches.getColumn(1).getString();
      public_ids[batches.getColumn(0).getInt64()] = public_id;
      BatchCounterAudit& audit = audits[public_id];
      audit.session_count = batches.getColumn(2).getInt64();
      audit.counters = {batches.getColumn(3).getInt64(), batches.getColumn(4).getInt64(),
                        batches.getColumn(5).getInt64(), batches.getColumn(6).getInt64(),
                        batches.getColumn(7).getInt64()};
    }
    SQLite::Statement rows(
        db, "SELECT batch_id, state, COUNT(*) FROM session GROUP BY batch_id, state");
    while (rows.executeStep()) {
      auto owner = public_ids.find(rows.getColumn(0).getInt64());
      if (owner == public_ids.end()) {
        return Status::Internal("session rows for missing batch id " +
                                std::to_string(rows.getColumn(0).getInt64()));
      }
      BatchCounterAudit& audit = audits[owner->second];
      AddToState(audit.rows, rows.getColumn(1).getInt64(), rows.getColumn(2).getInt64(),
                 audit.unknown_state_rows);
    }
    return audits;
  });
}

Result<std::map<int64_t, std::string>> ReadCheckpoints(const std::filesystem::path& db_path) {
  using Checkpoints = std::map<int64_t, std::string>;
  return Guarded(db_path, [](SQLite::Database& db) -> Result<Checkpoints> {
    Checkpoints out;
    SQLite::Statement s(
        db, "SELECT session_id, checkpoint FROM session_state WHERE checkpoint IS NOT NULL");
    while (s.executeStep()) out[s.getColumn(0).getInt64()] = s.getColumn(1).getString();
    return out;
  });
}

Result<std::string> IntegrityCheck(const std::filesystem::path& db_path) {
  return Guarded(db_path, [](SQLite::Database& db) -> Result<std::string> {
    SQLite::Statement check(db, "PRAGMA integrity_check");
    std::string verdict;
    while (check.executeStep()) {
      verdict += (verdict.empty() ? "" : "\n") + check.getColumn(0).getString();
    }
    return verdict;
  });
}

}  // namespace batchd::testing
