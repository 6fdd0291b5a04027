#include "storage/pg/pg_migrations.h"

#include <spdlog/spdlog.h>

namespace batchd::storage::pg {

int LatestPgSchemaVersion() {
  const auto& all = EmbeddedPgMigrations();
  return all.empty() ? 0 : all.back().version;
}

Status ApplyPgMigrations(PgConnection& conn) {
  const int latest = LatestPgSchemaVersion();
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  // Held to the end of the transaction: a second node migrating at once waits here, then sees
  // the version the first one committed.
  RETURN_IF_ERROR(conn.Run("SELECT pg_advisory_xact_lock($1)", {PgParam::Int(kMigrationLockKey)}));
  RETURN_IF_ERROR(conn.Run("CREATE TABLE IF NOT EXISTS batchd_schema (version INTEGER NOT NULL)"));
  ASSIGN_OR_RETURN(PgResult version, conn.Exec("SELECT max(version) FROM batchd_schema"));
  const int current = static_cast<int>(version.Int(0, 0));
  if (current > latest) {
    return Status::FailedPrecondition(
        "the PostgreSQL database has schema version " + std::to_string(current) +
        ", newer than this batchd understands (" + std::to_string(latest) +
        "); run a newer batchd or point --store elsewhere");
  }
  for (const Migration& m : EmbeddedPgMigrations()) {
    if (m.version <= current) continue;
    spdlog::info("applying PostgreSQL migration {}", m.name);
    if (Status s = conn.Run(m.sql); !s.ok()) {
      return Status(s.code(), "migration " + std::string(m.name) + ": " + s.message());
    }
  }
  if (current < latest) {
    RETURN_IF_ERROR(conn.Run("DELETE FROM batchd_schema"));
    RETURN_IF_ERROR(
        conn.Run("INSERT INTO batchd_schema (version) VALUES ($1)", {PgParam::Int(latest)}));
  }
  return txn.Commit();
}

}  // namespace batchd::storage::pg
