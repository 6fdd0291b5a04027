// A read-only REPEATABLE READ transaction: the statements of one multi-statement read (a batch
// and a page of its sessions) all see one snapshot. Ended (rolled back: it wrote nothing) by
// the destructor. Not for use inside another transaction (its end would end that one too).
#pragma once

#include "core/status.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

class PgReadSnapshot {
 public:
  explicit PgReadSnapshot(PgConnection& conn)
      : conn_(conn), begun_(conn.Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {}
  ~PgReadSnapshot() {
    if (begun_.ok()) (void)conn_.Run("ROLLBACK");
  }
  PgReadSnapshot(const PgReadSnapshot&) = delete;
  PgReadSnapshot& operator=(const PgReadSnapshot&) = delete;

  const Status& begun() const { return begun_; }

 private:
  PgConnection& conn_;
  Status begun_;
};

}  // namespace batchd::storage::pg
