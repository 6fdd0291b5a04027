#include "storage/sqlite_connection.h"

#include <mutex>

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

namespace batchd::storage {
namespace {

// How long a connection waits on a lock before reporting SQLITE_BUSY. With WAL and one writer
// it is only reached during checkpoints and recovery, never in normal operation.
constexpr int kBusyTimeoutMs = 10'000;

// Process-wide settings, applied once before SQLite initializes. Memory statistics make every
// sqlite3_malloc and sqlite3_free take a global mutex, shared by all connections and threads;
// batchd never reads them. If SQLite was already initialized (a test opened a database first),
// sqlite3_config refuses and the defaults stay: slower, equally correct.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Result<std::unique_ptr<SQLite::Database>> OpenConnection(const std::filesystem::path& path,
                                                         ConnectionRole role) {
  ConfigureSqliteOnce();
  try {
    int flags = SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX;
    if (role == ConnectionRole::kWriter) {
      flags = SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX;
    } else if (role == ConnectionRole::kCheckpointer) {
      flags = SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX;  // a checkpoint writes the file
    }
    auto db = std::make_unique<SQLite::Database>(path.string(), flags, kBusyTimeoutMs);
    if (role == ConnectionRole::kWriter) {
      db->exec("PRAGMA journal_mode = WAL");
      db->exec("PRAGMA synchronous = NORMAL");
      // Bulk inserts append at the end of the session b-tree; a modest cache is plenty and
      // keeps the daemon's memory bounded whatever the batch size.
      db->exec("PRAGMA cache_size = -16384");
    } else if (role == ConnectionRole::kCheckpointer) {
      // Checkpoints sync the WAL and the database file as the writer's settings ask.
      db->exec("PRAGMA synchronous = NORMAL");
    } else {
      db->exec("PRAGMA cache_size = -8192");
    }
    db->exec("PRAGMA temp_store = MEMORY");
    return db;
  } catch (const SQLite::Exception& e) {
    return Status::IoError("opening database " + path.string() + ": " + e.what());
  }
}

}  // namespace batchd::storage
