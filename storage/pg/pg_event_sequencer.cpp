#include "storage/pg/pg_event_sequencer.h"

#include <string>

#include "storage/pg/pg_migrations.h"

namespace batchd::storage::pg {

Result<int64_t> RunSequencerPass(PgConnection& conn, int64_t limit) {
  PgTransaction tx(conn);
  RETURN_IF_ERROR(tx.begun());
  // The lock in a statement of its own: in READ COMMITTED each later statement takes a new
  // snapshot, so it sees the rows the previous pass numbered (that pass committed before the
  // lock was released).
  RETURN_IF_ERROR(conn.Run("SELECT pg_advisory_xact_lock($1)", {PgParam::Int(kSequencerLockKey)}));
  ASSIGN_OR_RETURN(PgResult ids, conn.Exec("SELECT id FROM event WHERE seq IS NULL "
                                           "ORDER BY id LIMIT $1",
                                           {PgParam::Int(limit)}));
  const int64_t count = ids.rows();
  if (count == 0) {
    RETURN_IF_ERROR(tx.Commit());
    return int64_t{0};
  }
  // The exact rows selected, not "seq IS NULL" again: a row with a smaller id may commit
  // meanwhile and must wait for the next pass rather than be numbered out of this one's order.
  std::string id_array = "{";
  for (int row = 0; row < count; ++row) {
    if (row > 0) id_array += ',';
    id_array += ids.Text(row, 0);
  }
  id_array += '}';
  // One reservation of `count` numbers: only passes (under the lock) draw from event_seq, so
  // [last - count + 1, last] is this pass's alone, and the ordinality of the id-ordered array
  // puts them in id order.
  ASSIGN_OR_RETURN(PgResult reserved,
                   conn.Exec("SELECT setval('event_seq', nextval('event_seq') + $1 - 1)",
                             {PgParam::Int(count)}));
  const int64_t last = reserved.Int(0, 0);
  ASSIGN_OR_RETURN(PgResult updated,
                   conn.Exec("UPDATE event AS e SET seq = $1 + t.ord - 1 "
                             "FROM unnest($2::bigint[]) WITH ORDINALITY AS t(id, ord) "
                             "WHERE e.id = t.id",
                             {PgParam::Int(last - count + 1), PgParam::Text(id_array)}));
  if (updated.affected() != count) {
    return Status::Internal("event sequencer: numbered " + std::to_string(updated.affected()) +
                            " of " + std::to_string(count) + " rows");
  }
  RETURN_IF_ERROR(
      conn.Run("SELECT pg_notify('batchd_events', $1)", {PgParam::Text(std::to_string(last))}));
  RETURN_IF_ERROR(tx.Commit());
  return count;
}

}  // namespace batchd::storage::pg
