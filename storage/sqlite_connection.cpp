#include "storage/sqlite_connection.h"

#include <SQLiteCpp/Exception.h>

namespace batchd::storage {
namespace {

// How long a connection waits on a lock before reporting SQLITE_BUSY. With WAL and one writer
// it is only reached during checkpoints and recovery, never in normal operation.
constexpr int kBusyTimeoutMs = 10'000;

}  // namespace

Result<std::unique_ptr<SQLite::Database>> OpenConnection(const std::filesystem::path& path,
                                                         ConnectionRole role) {
  try {
    const int flags = role == ConnectionRole::kWriter
                          ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX
                          : SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX;
    auto db = std::make_unique<SQLite::Database>(path.string(), flags, kBusyTimeoutMs);
    if (role == ConnectionRole::kWriter) {
      db->exec("PRAGMA journal_mode = WAL");
      db->exec("PRAGMA synchronous = NORMAL");
      // Bulk inserts append at the end of the session b-tree; a modest cache is plenty and
      // keeps the daemon's memory bounded whatever the batch size.
      db->exec("PRAGMA cache_size = -16384");
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
