// raw_insert_limit N DB_PATH: "the limit" for the submit benchmark (bench/README.md).
//
// Creates a fresh database at DB_PATH with the daemon's connection settings and schema, then
// times inserting N compact session rows (id, batch_id, ordinal) = (1 + i, 1, i) in ONE
// transaction with prepared multi-row INSERTs, commit included. Nothing else: no batch row, no
// counters, no slicing, no HTTP. Prints one JSON line:
//   {"anchor":"raw_insert_limit","sessions":N,"seconds":S,"sessions_per_s":R}
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <spdlog/spdlog.h>

#include "storage/migrations.h"
#include "storage/sqlite_connection.h"

namespace {

// Same shape as the daemon's bulk insert: 256 rows x 3 parameters per statement.
constexpr int64_t kRowsPerStatement = 256;

std::string MultiRowInsertSql(int64_t rows) {
  std::string sql = "INSERT INTO session (id, batch_id, ordinal) VALUES ";
  for (int64_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?)" : ",(?,?,?)";
  return sql;
}

void BindRowsAndExec(SQLite::Statement& stmt, int64_t first_ordinal, int64_t rows) {
  int param = 1;
  for (int64_t ordinal = first_ordinal; ordinal < first_ordinal + rows; ++ordinal) {
    stmt.bind(param++, ordinal + 1);  // id
    stmt.bind(param++, int64_t{1});   // batch_id
    stmt.bind(param++, ordinal);      // ordinal
  }
  stmt.exec();
  stmt.reset();
}

int Usage() {
  std::fprintf(stderr, "usage: raw_insert_limit N DB_PATH\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return Usage();
  char* end = nullptr;
  const long long parsed = std::strtoll(argv[1], &end, 10);
  if (end == argv[1] || *end != '\0' || parsed < 0) return Usage();
  const int64_t n = parsed;
  const std::filesystem::path path = argv[2];
  spdlog::set_level(spdlog::level::warn);  // stdout is for the JSON line only

  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    std::filesystem::remove(path.string() + suffix, ec);
  }

  // The daemon's writer connection: WAL, synchronous=NORMAL and its cache settings.
  auto db = batchd::storage::OpenConnection(path, batchd::storage::ConnectionRole::kWriter);
  if (!db.ok()) {
    std::fprintf(stderr, "raw_insert_limit: %s\n", db.status().message().c_str());
    return 1;
  }
  if (batchd::Status s = batchd::storage::ApplyMigrations(**db); !s.ok()) {
    std::fprintf(stderr, "raw_insert_limit: migrations: %s\n", s.message().c_str());
    return 1;
  }

  try {
    const auto start = std::chrono::steady_clock::now();
    SQLite::Transaction txn(**db);
    int64_t ordinal = 0;
    if (n >= kRowsPerStatement) {
      SQLite::Statement full(**db, MultiRowInsertSql(kRowsPerStatement));
      for (; n - ordinal >= kRowsPerStatement; ordinal += kRowsPerStatement) {
        BindRowsAndExec(full, ordinal, kRowsPerStatement);
      }
    }
    if (ordinal < n) {
      SQLite::Statement tail(**db, MultiRowInsertSql(n - ordinal));
      BindRowsAndExec(tail, ordinal, n - ordinal);
    }
    txn.commit();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "{\"anchor\":\"raw_insert_limit\",\"sessions\":%lld,\"seconds\":%.6f,"
        "\"sessions_per_s\":%.0f}\n",
        static_cast<long long>(n), seconds, seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "raw_insert_limit: insert failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
