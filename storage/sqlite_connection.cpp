#include "storage/sqlite_connection.h"

#include <mutex>
#include <string_view>
#include <tuple>

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include "core/batch_state.h"

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

// batch_state(uninitialized, in_progress, completed, error, canceled, paused): the name of the
// state DeriveBatchState gives, so the SQL that moves counters applies the same rule as the
// code (one rule, not a copy in SQL).
void BatchStateFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  int64_t n[5];
  for (int i = 0; i < 5; ++i) n[i] = sqlite3_value_int64(argv[i]);
  const bool paused = sqlite3_value_int64(argv[5]) != 0;
  const char* name = BatchStateName(DeriveBatchState(n[0], n[1], n[2], n[3], n[4], paused));
  sqlite3_result_text(context, name, -1, SQLITE_STATIC);
}

// batch_finished(state_name): IsFinished, 1 or 0.
void BatchFinishedFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  const unsigned char* text = sqlite3_value_text(argv[0]);
  const std::string_view name = text ? reinterpret_cast<const char*>(text) : "";
  sqlite3_result_int(context, IsFinished(name) ? 1 : 0);
}

void RegisterFunctions(SQLite::Database& db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  for (auto [name, args, fn] : {std::tuple{"batch_state", 6, &BatchStateFunction},
                                std::tuple{"batch_finished", 1, &BatchFinishedFunction}}) {
    const int rc = sqlite3_create_function_v2(db.getHandle(), name, args, kFlags, nullptr, fn,
                                              nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throw SQLite::Exception(db.getHandle(), rc);
  }
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
    RegisterFunctions(*db);
    return db;
  } catch (const SQLite::Exception& e) {
    return Status::IoError("opening database " + path.string() + ": " + e.what());
  }
}

}  // namespace batchd::storage
