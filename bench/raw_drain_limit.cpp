// raw_drain_limit MODE N DB_PATH [BATCH]: the anchors of the drain benchmark (bench/README.md).
//
// Creates a fresh database at DB_PATH with the daemon's connection settings and schema, stores
// one batch of N sessions (untimed: a `batch` row in state 'queued' with n_uninitialized = N,
// and the session rows (id, batch_id, ordinal) = (1 + i, 1, i)), then times draining them: every
// session goes 0 (uninitialized) -> 1 (in_progress, attempts + 1) -> 2 (completed), with the
// batch counters moved in the same transactions and the batch ending 'completed'. MODE:
//
//   batched        the limit: per round, one transaction claims the next BATCH (default 4096)
//                  sessions with one ranged `UPDATE ... RETURNING id` and moves the counters;
//                  a second one completes each claimed id with a prepared single-row UPDATE
//                  and moves the counters. Nothing else: no execution state, no results.
//   batched_range  as batched, but completes a round with one ranged UPDATE (it assumes every
//                  claimed session completed, which a scheduler cannot; informational).
//   naive          per session, one transaction claims it and commits, then one transaction
//                  completes it and commits, each moving the counters: what a per-row ORM
//                  does (with prepared statements, and told the id: no search for it).
//
// Checks afterwards (untimed) that all N sessions are completed and the counters agree. Prints
// one JSON line:
//   {"anchor":"raw_drain_limit","mode":M,"sessions":N,"batch":B,"seconds":S,"sessions_per_s":R}
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <spdlog/spdlog.h>

#include "storage/migrations.h"
#include "storage/sqlite_connection.h"

namespace {

enum class Mode { kBatched, kBatchedRange, kNaive };

constexpr int64_t kBatchId = 1;
constexpr int64_t kDefaultBatch = 4096;
constexpr int64_t kRowsPerStatement = 256;  // the daemon's bulk insert shape

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MultiRowInsertSql(int64_t rows) {
  std::string sql = "INSERT INTO session (id, batch_id, ordinal) VALUES ";
  for (int64_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?)" : ",(?,?,?)";
  return sql;
}

void BindRowsAndExec(SQLite::Statement& stmt, int64_t first_ordinal, int64_t rows) {
  int param = 1;
  for (int64_t ordinal = first_ordinal; ordinal < first_ordinal + rows; ++ordinal) {
    stmt.bind(param++, ordinal + 1);  // id
    stmt.bind(param++, kBatchId);     // batch_id
    stmt.bind(param++, ordinal);      // ordinal
  }
  stmt.exec();
  stmt.reset();
}

// Untimed: the batch row as the daemon leaves it after a submit, and its N session rows.
void Populate(SQLite::Database& db, int64_t n) {
  SQLite::Transaction txn(db);
  SQLite::Statement batch(db,
                          "INSERT INTO batch (id, public_id, name, priority, runs, max_running, "
                          "max_attempts, spec, shape, session_count, first_session_id, state, "
                          "n_uninitialized, created_at, claim_cursor) "
                          "VALUES (?, 'rawdrain', 'raw_drain_limit', 0, 1, NULL, 3, x'', ?, ?, "
                          "1, 'queued', ?, ?, 1)");
  batch.bind(1, kBatchId);
  batch.bind(2, std::to_string(n));
  batch.bind(3, n);
  batch.bind(4, n);
  batch.bind(5, NowMs());
  batch.exec();
  int64_t ordinal = 0;
  if (n >= kRowsPerStatement) {
    SQLite::Statement full(db, MultiRowInsertSql(kRowsPerStatement));
    for (; n - ordinal >= kRowsPerStatement; ordinal += kRowsPerStatement) {
      BindRowsAndExec(full, ordinal, kRowsPerStatement);
    }
  }
  if (ordinal < n) {
    SQLite::Statement tail(db, MultiRowInsertSql(n - ordinal));
    BindRowsAndExec(tail, ordinal, n - ordinal);
  }
  db.exec("UPDATE meta SET value = " + std::to_string(n + 1) + " WHERE key = 'next_session_id'");
  txn.commit();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // start the timed part from an empty WAL
}

// The counter statements, shared by all modes. A claim moves `k` sessions uninitialized ->
// in_progress and the claim cursor; a completion moves `k` in_progress -> completed and sets
// the batch state the way the daemon does (completed once nothing is left, else running).
struct Counters {
  explicit Counters(SQLite::Database& db)
      : claim(db,
              "UPDATE batch SET n_uninitialized = n_uninitialized - ?1, "
              "n_in_progress = n_in_progress + ?1, claim_cursor = ?2, state = 'running' "
              "WHERE id = ?3"),
        complete(db,
                 "UPDATE batch SET n_in_progress = n_in_progress - ?1, "
                 "n_completed = n_completed + ?1, "
                 "state = CASE WHEN n_uninitialized = 0 AND n_in_progress = ?1 "
                 "THEN 'completed' ELSE 'running' END, "
                 "finished_at = CASE WHEN n_uninitialized = 0 AND n_in_progress = ?1 "
                 "THEN ?2 ELSE NULL END WHERE id = ?3") {}

  void Claimed(int64_t k, int64_t cursor) {
    claim.bind(1, k);
    claim.bind(2, cursor);
    claim.bind(3, kBatchId);
    claim.exec();
    claim.reset();
  }
  void Completed(int64_t k) {
    complete.bind(1, k);
    complete.bind(2, NowMs());
    complete.bind(3, kBatchId);
    complete.exec();
    complete.reset();
  }

  SQLite::Statement claim;
  SQLite::Statement complete;
};

// Returns the number of sessions completed.
int64_t DrainBatched(SQLite::Database& db, int64_t n, int64_t batch, bool range_complete) {
  Counters counters(db);
  SQLite::Statement claim(db,
                          "UPDATE session SET state = 1, attempts = attempts + 1 "
                          "WHERE id >= ? AND id < ? AND state = 0 RETURNING id");
  SQLite::Statement complete_one(db, "UPDATE session SET state = 2 WHERE id = ? AND state = 1");
  SQLite::Statement complete_range(
      db, "UPDATE session SET state = 2 WHERE id >= ? AND id < ? AND state = 1");
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(batch));
  int64_t done = 0;
  for (int64_t cursor = 1; cursor <= n; cursor += batch) {
    const int64_t end = std::min(n + 1, cursor + batch);
    ids.clear();
    {
      SQLite::Transaction txn(db);
      claim.bind(1, cursor);
      claim.bind(2, end);
      while (claim.executeStep()) ids.push_back(claim.getColumn(0).getInt64());
      claim.reset();
      counters.Claimed(static_cast<int64_t>(ids.size()), end);
      txn.commit();
    }
    {
      SQLite::Transaction txn(db);
      int64_t completed = 0;
      if (range_complete) {
        complete_range.bind(1, cursor);
        complete_range.bind(2, end);
        completed = complete_range.exec();
        complete_range.reset();
      } else {
        for (const int64_t id : ids) {
          complete_one.bind(1, id);
          completed += complete_one.exec();
          complete_one.reset();
        }
      }
      counters.Completed(completed);
      txn.commit();
      done += completed;
    }
  }
  return done;
}

int64_t DrainNaive(SQLite::Database& db, int64_t n) {
  Counters counters(db);
  SQLite::Statement claim(db,
                          "UPDATE session SET state = 1, attempts = attempts + 1 "
                          "WHERE id = ? AND state = 0");
  SQLite::Statement complete(db, "UPDATE session SET state = 2 WHERE id = ? AND state = 1");
  int64_t done = 0;
  for (int64_t id = 1; id <= n; ++id) {
    {
      SQLite::Transaction txn(db);
      claim.bind(1, id);
      const int claimed = claim.exec();
      claim.reset();
      counters.Claimed(claimed, id + 1);
      txn.commit();
    }
    {
      SQLite::Transaction txn(db);
      complete.bind(1, id);
      const int completed = complete.exec();
      complete.reset();
      counters.Completed(completed);
      txn.commit();
      done += completed;
    }
  }
  return done;
}

// Untimed: every session completed once, and the batch row says so.
bool Verify(SQLite::Database& db, int64_t n) {
  SQLite::Statement rows(db,
                         "SELECT count(*), coalesce(sum(state = 2), 0), "
                         "coalesce(sum(attempts = 1), 0) FROM session");
  rows.executeStep();
  SQLite::Statement b(db,
                      "SELECT n_uninitialized, n_in_progress, n_completed, n_error, n_canceled, "
                      "state, finished_at IS NOT NULL FROM batch WHERE id = 1");
  b.executeStep();
  const bool ok =
      rows.getColumn(0).getInt64() == n && rows.getColumn(1).getInt64() == n &&
      rows.getColumn(2).getInt64() == n && b.getColumn(0).getInt64() == 0 &&
      b.getColumn(1).getInt64() == 0 && b.getColumn(2).getInt64() == n &&
      b.getColumn(3).getInt64() == 0 && b.getColumn(4).getInt64() == 0 &&
      (n == 0 || (b.getColumn(5).getString() == "completed" && b.getColumn(6).getInt() == 1));
  if (!ok) {
    std::fprintf(stderr,
                 "raw_drain_limit: verification failed: rows=%lld completed=%lld "
                 "attempts1=%lld counters=%lld/%lld/%lld/%lld/%lld state=%s\n",
                 static_cast<long long>(rows.getColumn(0).getInt64()),
                 static_cast<long long>(rows.getColumn(1).getInt64()),
                 static_cast<long long>(rows.getColumn(2).getInt64()),
                 static_cast<long long>(b.getColumn(0).getInt64()),
                 static_cast<long long>(b.getColumn(1).getInt64()),
                 static_cast<long long>(b.getColumn(2).getInt64()),
                 static_cast<long long>(b.getColumn(3).getInt64()),
                 static_cast<long long>(b.getColumn(4).getInt64()),
                 b.getColumn(5).getString().c_str());
  }
  return ok;
}

int Usage() {
  std::fprintf(stderr, "usage: raw_drain_limit batched|batched_range|naive N DB_PATH [BATCH]\n");
  return 2;
}

bool ParseCount(const char* text, int64_t min, int64_t& out) {
  char* end = nullptr;
  const long long parsed = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || parsed < min) return false;
  out = parsed;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return Usage();
  Mode mode;
  if (std::strcmp(argv[1], "batched") == 0) {
    mode = Mode::kBatched;
  } else if (std::strcmp(argv[1], "batched_range") == 0) {
    mode = Mode::kBatchedRange;
  } else if (std::strcmp(argv[1], "naive") == 0) {
    mode = Mode::kNaive;
  } else {
    return Usage();
  }
  int64_t n = 0;
  int64_t batch = kDefaultBatch;
  if (!ParseCount(argv[2], 0, n) || (argc == 5 && !ParseCount(argv[4], 1, batch))) {
    return Usage();
  }
  if (mode == Mode::kNaive) batch = 1;
  const std::filesystem::path path = argv[3];
  spdlog::set_level(spdlog::level::warn);  // stdout is for the JSON line only

  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    std::filesystem::remove(path.string() + suffix, ec);
  }

  // The daemon's writer connection: WAL, synchronous=NORMAL and its cache settings.
  auto db = batchd::storage::OpenConnection(path, batchd::storage::ConnectionRole::kWriter);
  if (!db.ok()) {
    std::fprintf(stderr, "raw_drain_limit: %s\n", db.status().message().c_str());
    return 1;
  }
  if (batchd::Status s = batchd::storage::ApplyMigrations(**db); !s.ok()) {
    std::fprintf(stderr, "raw_drain_limit: migrations: %s\n", s.message().c_str());
    return 1;
  }

  try {
    Populate(**db, n);
    const auto start = std::chrono::steady_clock::now();
    const int64_t done = mode == Mode::kNaive
                             ? DrainNaive(**db, n)
                             : DrainBatched(**db, n, batch, mode == Mode::kBatchedRange);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done != n || !Verify(**db, n)) {
      std::fprintf(stderr, "raw_drain_limit: drained %lld of %lld sessions\n",
                   static_cast<long long>(done), static_cast<long long>(n));
      return 1;
    }
    std::printf(
        "{\"anchor\":\"raw_drain_limit\",\"mode\":\"%s\",\"sessions\":%lld,\"batch\":%lld,"
        "\"seconds\":%.6f,\"sessions_per_s\":%.0f}\n",
        argv[1], static_cast<long long>(n), static_cast<long long>(batch), seconds,
        seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "raw_drain_limit: %s\n", e.what());
    return 1;
  }
  return 0;
}
