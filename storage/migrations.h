// Forward-only schema migrations. The files migrations/NNNN_name.sql are embedded into the
// binary at build time (see storage/CMakeLists.txt); migration N sets PRAGMA user_version = N.
#pragma once

#include <string_view>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/status.h"

namespace batchd::storage {

struct Migration {
  int version;            // NNNN from the file name
  std::string_view name;  // file name, for logs
  std::string_view sql;
};

// All embedded migrations, ordered by version (1, 2, ... without gaps).
const std::vector<Migration>& EmbeddedMigrations();

// The version the embedded migrations bring a database to.
int LatestSchemaVersion();

// Brings `db` from its PRAGMA user_version to LatestSchemaVersion(), all pending migrations
// in one transaction (all or nothing). kFailedPrecondition, with a message naming both
// versions, if the database is newer than this binary; kIoError if a migration fails.
Status ApplyMigrations(SQLite::Database& db);

}  // namespace batchd::storage
