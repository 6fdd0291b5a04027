#include "storage/migrations.h"

#include <SQLiteCpp/Exception.h>
#include <spdlog/spdlog.h>

namespace batchd::storage {

int LatestSchemaVersion() {
  const auto& all = EmbeddedMigrations();
  return all.empty() ? 0 : all.back().version;
}

Status ApplyMigrations(SQLite::Database& db) {
  const int latest = LatestSchemaVersion();
  try {
    // BEGIN IMMEDIATE: two processes opening the same new file must not both migrate it.
    db.exec("BEGIN IMMEDIATE");
    const int current = db.execAndGet("PRAGMA user_version").getInt();
    if (current > latest) {
      db.exec("ROLLBACK");
      return Status::FailedPrecondition(
          "database " + db.getFilename() + " has schema version " + std::to_string(current) +
          ", newer than this batchd understands (" + std::to_string(latest) +
          "); run a newer batchd or point --data-dir elsewhere");
    }
    for (const Migration& m : EmbeddedMigrations()) {
      if (m.version <= current) continue;
      spdlog::info("applying migration {}", m.name);
      db.exec(std::string(m.sql));
      db.exec("PRAGMA user_version = " + std::to_string(m.version));
    }
    db.exec("COMMIT");
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (db.getHandle() != nullptr) {
      try {
        db.exec("ROLLBACK");
      } catch (const SQLite::Exception&) {
        // No transaction was open (BEGIN itself failed); nothing to undo.
      }
    }
    return Status::IoError(std::string("migrating ") + db.getFilename() + ": " + e.what());
  }
}

}  // namespace batchd::storage
