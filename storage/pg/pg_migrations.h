// Forward-only schema migrations of the PostgreSQL store: migrations/postgres/NNNN_name.sql,
// embedded at build time like the SQLite ones (storage/migrations.h). The version lives in the
// one-row table batchd_schema.
#pragma once

#include <vector>

#include "core/status.h"
#include "storage/migrations.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

const std::vector<Migration>& EmbeddedPgMigrations();
int LatestPgSchemaVersion();

// Brings the database to LatestPgSchemaVersion() in one transaction, under an advisory lock:
// nodes starting at once against a new database wait for the first, which migrates; the others
// then find nothing to do. kFailedPrecondition if the database is newer than this binary;
// kIoError/kUnavailable if a migration fails or the server goes away (nothing is applied).
Status ApplyPgMigrations(PgConnection& conn);

// The advisory lock keys of the store (pg_advisory_lock's one-bigint form). Distinct, fixed:
// they are part of the on-database protocol between nodes.
inline constexpr int64_t kMigrationLockKey = 0x62617463'68640001;  // "batchd" 1
inline constexpr int64_t kSequencerLockKey = 0x62617463'68640002;
inline constexpr int64_t kRescueLockKey = 0x62617463'68640003;

}  // namespace batchd::storage::pg
