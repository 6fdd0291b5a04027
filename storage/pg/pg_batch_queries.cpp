#include "storage/pg/pg_batch_queries.h"

#include <algorithm>
#include <climits>

#include "storage/json_blob.h"
#include "storage/pg/pg_batch_rows.h"
#include "storage/pg/pg_read_snapshot.h"

namespace batchd::storage::pg {
namespace {

// The text a batch holds, which its rendering contains at least once: what bounds a page.
size_t TextBytes(const BatchRecord& b) {
  return b.public_id.size() + b.name.size() + (b.result_json ? b.result_json->size() : 0);
}

size_t TextBytes(const SessionResultRow& r) {
  return (r.result_json ? r.result_json->size() : 0) +
         (r.error_message ? r.error_message->size() : 0);
}

// Whether `size` more bytes would pass `max_bytes` after `bytes`, without overflowing.
bool PassesBound(size_t bytes, size_t size, size_t max_bytes) {
  return size > max_bytes - std::min(bytes, max_bytes);
}

// The first session id after `after_id` within the batch (the lower bound, exclusive).
int64_t AfterBound(const std::optional<int64_t>& after_id, const BatchRecord& b) {
  return std::max(after_id.value_or(0), b.first_session_id - 1);
}

int64_t EndBound(const BatchRecord& b) {
  return b.first_session_id + static_cast<int64_t>(b.session_count);
}

Result<ExecutionRecord> ReadExecution(const PgResult& r, int row, int first) {
  ExecutionRecord e;
  if (!r.IsNull(row, first)) {
    ASSIGN_OR_RETURN(e.state_json, DecompressJson(r.Bytes(row, first)));
  }
  e.chunks_done = r.Int(row, first + 1);
  e.chunks_total = r.Int(row, first + 2);
  e.result_json = r.OptionalText(row, first + 3);
  e.error_kind = r.OptionalText(row, first + 4);
  e.error_message = r.OptionalText(row, first + 5);
  e.checkpoint_json = r.OptionalText(row, first + 6);
  return e;
}

}  // namespace

Result<Page<BatchRecord>> QueryBatches(PgConnection& conn, const BatchListQuery& query) {
  std::string sql = std::string("SELECT ") + kPgBatchColumns + " FROM batch b WHERE b.id < $1";
  std::vector<PgParam> params{PgParam::Int(query.before_id.value_or(INT64_MAX))};
  if (query.state) {
    sql += " AND b.state = $2";
    params.push_back(PgParam::Text(BatchStateName(*query.state)));
  }
  sql += " ORDER BY b.id DESC LIMIT $" + std::to_string(params.size() + 1);
  params.push_back(PgParam::Int(query.limit + 1));  // one extra row tells whether one follows
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
  Page<BatchRecord> page;
  size_t bytes = 0;
  for (int i = 0; i < r.rows(); ++i) {
    BatchRecord b = ReadBatchRow(r, i);
    const size_t size = TextBytes(b);
    if (!page.items.empty() && (page.items.size() == static_cast<size_t>(query.limit) ||
                                PassesBound(bytes, size, query.max_bytes))) {
      page.next_cursor = page.items.back().id;  // a row follows: the page ends before it
      break;
    }
    bytes += size;
    page.items.push_back(std::move(b));
  }
  return page;
}

Result<BatchRecord> QueryBatch(PgConnection& conn, const std::string& public_id) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string("SELECT ") + kPgBatchColumns +
                                             " FROM batch b WHERE b.public_id = $1",
                                         {PgParam::Text(public_id)}));
  if (r.rows() == 0) return Status::NotFound("no batch with id " + public_id);
  return ReadBatchRow(r, 0);
}

Result<Page<SessionRecord>> QuerySessions(PgConnection& conn, const SessionListQuery& query) {
  PgReadSnapshot snapshot(conn);
  RETURN_IF_ERROR(snapshot.begun());
  ASSIGN_OR_RETURN(BatchRecord batch, QueryBatch(conn, query.batch_public_id));
  std::string sql =
      "SELECT id, batch_id, ordinal, state, attempts FROM session WHERE id > $1 AND id < $2";
  std::vector<PgParam> params{PgParam::Int(AfterBound(query.after_id, batch)),
                              PgParam::Int(EndBound(batch))};
  if (query.state) {
    sql += " AND state = $3";
    params.push_back(PgParam::Int(static_cast<int>(*query.state)));
  }
  sql += " ORDER BY id LIMIT $" + std::to_string(params.size() + 1);
  params.push_back(PgParam::Int(query.limit + 1));
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
  Page<SessionRecord> page;
  for (int i = 0; i < r.rows(); ++i) page.items.push_back(ReadSessionRow(r, i, 0, batch.public_id));
  if (page.items.size() > static_cast<size_t>(query.limit)) {
    page.items.pop_back();
    page.next_cursor = page.items.back().id;
  }
  return page;
}

Result<Page<SessionResultRow>> QuerySessionResults(PgConnection& conn,
                                                   const SessionResultsQuery& query) {
  PgReadSnapshot snapshot(conn);
  RETURN_IF_ERROR(snapshot.begun());
  ASSIGN_OR_RETURN(BatchRecord batch, QueryBatch(conn, query.batch_public_id));
  // A LEFT JOIN: sessions never dequeued have no session_state row and still get a line.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(
          "SELECT s.id, s.ordinal, s.state, s.attempts, st.result, st.error_kind, "
          "st.error_message FROM session s LEFT JOIN session_state st ON st.session_id = s.id "
          "WHERE s.id > $1 AND s.id < $2 ORDER BY s.id LIMIT $3",
          {PgParam::Int(AfterBound(query.after_id, batch)), PgParam::Int(EndBound(batch)),
           PgParam::Int(query.limit + 1)}));
  Page<SessionResultRow> page;
  size_t bytes = 0;
  for (int i = 0; i < r.rows(); ++i) {
    SessionResultRow row;
    row.id = r.Int(i, 0);
    row.ordinal = static_cast<uint64_t>(r.Int(i, 1));
    row.state = static_cast<SessionState>(r.Int(i, 2));
    row.attempts = r.Int(i, 3);
    row.result_json = r.OptionalText(i, 4);
    row.error_kind = r.OptionalText(i, 5);
    row.error_message = r.OptionalText(i, 6);
    const size_t size = TextBytes(row);
    if (!page.items.empty() && (page.items.size() == static_cast<size_t>(query.limit) ||
                                PassesBound(bytes, size, query.max_bytes))) {
      page.next_cursor = page.items.back().id;  // a row follows: the page ends before it
      break;
    }
    bytes += size;
    page.items.push_back(std::move(row));
  }
  return page;
}

Result<SessionDetail> QuerySession(PgConnection& conn, int64_t session_id) {
  // One statement, so one snapshot: the session, its batch, and its execution state if any.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(std::string("SELECT s.id, s.batch_id, s.ordinal, s.state, s.attempts, b.spec, "
                            "st.session_id, st.state, st.chunks_done, st.chunks_total, "
                            "st.result, st.error_kind, st.error_message, st.checkpoint, ") +
                    kPgBatchColumns +
                    " FROM session s JOIN batch b ON b.id = s.batch_id "
                    "LEFT JOIN session_state st ON st.session_id = s.id "
                    "WHERE s.id = $1 AND b.state <> 'enqueuing'",
                {PgParam::Int(session_id)}));
  if (r.rows() == 0) return Status::NotFound("no session with id " + std::to_string(session_id));
  SessionDetail d;
  d.batch = ReadBatchRow(r, 0, 14);
  d.session = ReadSessionRow(r, 0, 0, d.batch.public_id);
  ASSIGN_OR_RETURN(d.spec_json, DecompressJson(r.Bytes(0, 5)));
  if (!r.IsNull(0, 6)) {
    ASSIGN_OR_RETURN(ExecutionRecord e, ReadExecution(r, 0, 7));
    d.execution = std::move(e);
  }
  return d;
}

Result<std::string> QueryBatchSpec(PgConnection& conn, int64_t batch_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT spec FROM batch WHERE id = $1", {PgParam::Int(batch_id)}));
  if (r.rows() == 0) return Status::NotFound("no batch " + std::to_string(batch_id));
  return DecompressJson(r.Bytes(0, 0));
}

Result<QueueStatus> QueryQueueStatus(PgConnection& conn) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT coalesce(sum(n_uninitialized), 0), coalesce(sum(n_in_progress), 0), "
                "coalesce(sum(n_completed), 0), coalesce(sum(n_error), 0), "
                "coalesce(sum(n_canceled), 0), "
                "count(*) FILTER (WHERE state IN ('queued', 'running', 'paused')), "
                "(SELECT value FROM meta WHERE key = 'queue_paused') "
                "FROM batch WHERE state <> 'enqueuing'"));
  QueueStatus q;
  q.counts = {r.Int(0, 0), r.Int(0, 1), r.Int(0, 2), r.Int(0, 3), r.Int(0, 4)};
  q.batches_active = r.Int(0, 5);
  q.paused = r.Int(0, 6) != 0;
  return q;
}

}  // namespace batchd::storage::pg
