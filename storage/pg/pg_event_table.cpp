// The event table in PostgreSQL: the same columns and the same read semantics as the SQLite log
// (storage/event_table.cpp), except that only rows the sequencer numbered are visible to readers
// (storage/pg/pg_event_sequencer.h): a row with seq NULL is committed but not yet in the order.
#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "storage/pg/pg_event_table.h"
#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

// Every column but seq, in the order AppendEvents sends them and RecordOf reads them (after seq).
constexpr const char* kColumns =
    "time, type, batch, session_id, name, state_from, state_to, sessions, n_uninitialized, "
    "n_in_progress, n_completed, n_error, n_canceled, finished_at, attempt, error_kind, "
    "error_message, retry_at, rate, eta_s, chunk_rate, byte_rate, suppressed, chunks_done, "
    "chunks_total, bytes_done, chunk_ranges";
constexpr int kColumnCount = 27;
// The columns of variable-length text in a row read as "seq, " + kColumns (as in the SQLite
// log: what max_bytes counts): batch, name, state_from, state_to, error_kind, error_message and
// chunk_ranges.
constexpr int kTextColumns[] = {3, 5, 6, 7, 16, 17, 27};
// Rows per INSERT statement: 27 parameters each stays far below libpq's 65535.
constexpr size_t kRowsPerInsert = 500;

PgParam TextOrNull(const std::string& v) { return v.empty() ? PgParam::Null() : PgParam::Text(v); }

PgParam DoubleOrNull(const std::optional<double>& v) {
  if (!v) return PgParam::Null();
  char buf[64];
  // The shortest text that reads back as the same double; PostgreSQL accepts "inf" and "nan".
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *v);
  return PgParam::Text(std::string(buf, end));
}

void AddParams(std::vector<PgParam>& p, const EventRecord& e) {
  p.push_back(PgParam::Int(e.time_ms));
  p.push_back(PgParam::Text(EventTypeName(e.type)));
  p.push_back(PgParam::Text(e.batch_public_id));
  p.push_back(PgParam::Optional(e.session_id));
  p.push_back(TextOrNull(e.batch_name));
  p.push_back(TextOrNull(e.from));
  p.push_back(TextOrNull(e.to));
  p.push_back(PgParam::Optional(e.sessions));
  if (e.counts) {
    for (int64_t v : {e.counts->uninitialized, e.counts->in_progress, e.counts->completed,
                      e.counts->error, e.counts->canceled}) {
      p.push_back(PgParam::Int(v));
    }
  } else {
    for (int i = 0; i < kSessionStateCount; ++i) p.push_back(PgParam::Null());
  }
  p.push_back(PgParam::Optional(e.finished_at_ms));
  p.push_back(PgParam::Optional(e.attempt));
  p.push_back(TextOrNull(e.error_kind));
  p.push_back(TextOrNull(e.error_message));
  p.push_back(PgParam::Optional(e.retry_at_ms));
  p.push_back(DoubleOrNull(e.sessions_per_s));
  p.push_back(DoubleOrNull(e.eta_s));
  p.push_back(DoubleOrNull(e.chunks_per_s));
  p.push_back(DoubleOrNull(e.bytes_per_s));
  p.push_back(PgParam::Optional(e.suppressed_session_events));
  p.push_back(PgParam::Optional(e.chunks_done));
  p.push_back(PgParam::Optional(e.chunks_total));
  p.push_back(PgParam::Optional(e.bytes_done));
  p.push_back(e.done_ranges ? PgParam::Text(EncodeChunkRanges(*e.done_ranges)) : PgParam::Null());
}

std::string InsertSql(size_t rows) {
  std::string sql = std::string("INSERT INTO event (") + kColumns + ") VALUES ";
  int n = 1;
  for (size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 0; c < kColumnCount; ++c) {
      if (c > 0) sql += ',';
      sql += '$';
      sql += std::to_string(n++);
    }
    sql += ')';
  }
  return sql;
}

// Reads seq and kColumns from `row` of `r`.
EventRecord RecordOf(const PgResult& r, int row) {
  int i = 0;
  EventRecord e;
  e.seq = r.Int(row, i++);
  e.time_ms = r.Int(row, i++);
  e.type = ParseEventType(r.Text(row, i++)).value_or(EventType::kBatchState);
  e.batch_public_id = std::string(r.Text(row, i++));
  e.session_id = r.OptionalInt(row, i++);
  e.batch_name = std::string(r.Text(row, i++));
  e.from = std::string(r.Text(row, i++));
  e.to = std::string(r.Text(row, i++));
  if (std::optional<int64_t> sessions = r.OptionalInt(row, i++)) {
    e.sessions = static_cast<uint64_t>(*sessions);
  }
  std::optional<int64_t> n[kSessionStateCount];
  for (auto& v : n) v = r.OptionalInt(row, i++);
  if (n[0]) {
    e.counts = SessionCounts{*n[0], n[1].value_or(0), n[2].value_or(0), n[3].value_or(0),
                             n[4].value_or(0)};
  }
  e.finished_at_ms = r.OptionalInt(row, i++);
  e.attempt = r.OptionalInt(row, i++);
  e.error_kind = std::string(r.Text(row, i++));
  e.error_message = std::string(r.Text(row, i++));
  e.retry_at_ms = r.OptionalInt(row, i++);
  e.sessions_per_s = r.OptionalDouble(row, i++);
  e.eta_s = r.OptionalDouble(row, i++);
  e.chunks_per_s = r.OptionalDouble(row, i++);
  e.bytes_per_s = r.OptionalDouble(row, i++);
  e.suppressed_session_events = r.OptionalInt(row, i++);
  e.chunks_done = r.OptionalInt(row, i++);
  e.chunks_total = r.OptionalInt(row, i++);
  e.bytes_done = r.OptionalInt(row, i++);
  if (!r.IsNull(row, i)) e.done_ranges = DecodeChunkRanges(r.Text(row, i));
  return e;
}

size_t RowTextBytes(const PgResult& r, int row) {
  size_t total = 0;
  for (int column : kTextColumns) total += r.Text(row, column).size();
  return total;
}

std::string TypeArray(const std::vector<EventType>& types) {
  std::string out = "{";
  for (size_t t = 0; t < types.size(); ++t) {
    if (t > 0) out += ',';
    out += '"';
    out += EventTypeName(types[t]);  // [a-z.]: nothing to escape inside the quotes
    out += '"';
  }
  return out + "}";
}

// The newest seq handed out, in SQL: max(seq) in the statement's snapshot, exactly what its
// reader can see. Only when retention has emptied the log does the sequence's own value stand in
// (numbers are never reused, so a client told latest_seq N resyncs rather than wait for events
// <= N). nextval is not transactional, so that value may count a pass not committed yet; the
// changes of those events committed before the pass, so a client resyncing then misses no state.
constexpr const char* kLatestSeqSql =
    "coalesce((SELECT max(seq) FROM event), "
    "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_seq))";

// The extent of the sequenced log in the caller's snapshot: (oldest, latest).
Result<std::pair<int64_t, int64_t>> Extent(PgConnection& conn) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec(std::string("SELECT (SELECT min(seq) FROM event), ") + kLatestSeqSql));
  const int64_t latest = r.Int(0, 1);
  return std::pair{r.OptionalInt(0, 0).value_or(latest + 1), latest};
}

}  // namespace

Status AppendEvents(PgConnection& conn, std::span<const EventRecord> events) {
  // seq stays NULL: the sequencer numbers the rows once they are committed.
  for (size_t start = 0; start < events.size(); start += kRowsPerInsert) {
    const size_t rows = std::min(kRowsPerInsert, events.size() - start);
    std::vector<PgParam> params;
    params.reserve(rows * kColumnCount);
    for (size_t r = 0; r < rows; ++r) AddParams(params, events[start + r]);
    RETURN_IF_ERROR(conn.Run(InsertSql(rows), params));
  }
  return Status::Ok();
}

Result<int64_t> LatestEventSeq(PgConnection& conn) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string("SELECT ") + kLatestSeqSql));
  return r.Int(0, 0);
}

Result<EventPage> ReadEvents(PgConnection& conn, const EventQuery& q) {
  // One snapshot for the page and the extent, or a retention delete in between could hide a
  // gap from the reader.
  PgTransaction tx(conn);
  RETURN_IF_ERROR(tx.begun());
  RETURN_IF_ERROR(conn.Run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  EventPage page;
  ASSIGN_OR_RETURN(auto extent, Extent(conn));
  page.oldest_seq = extent.first;
  page.latest_seq = extent.second;

  std::vector<PgParam> params{PgParam::Int(q.after_seq)};
  std::string sql = std::string("SELECT seq, ") + kColumns + " FROM event WHERE seq > $1";
  auto next = [&params] { return "$" + std::to_string(params.size() + 1); };
  if (q.batch_public_id) {
    sql += " AND batch = " + next();
    params.push_back(PgParam::Text(*q.batch_public_id));
  }
  if (q.session_id) {
    sql += " AND session_id = " + next();
    params.push_back(PgParam::Int(*q.session_id));
  }
  if (!q.types.empty()) {
    sql += " AND type = ANY(" + next() + "::text[])";
    params.push_back(PgParam::Text(TypeArray(q.types)));
  }
  const size_t limit = static_cast<size_t>(std::max(1, q.limit));
  sql += (q.tail ? " ORDER BY seq DESC LIMIT " : " ORDER BY seq LIMIT ") + next();
  params.push_back(PgParam::Int(static_cast<int64_t>(limit) + 1));  // one more: is there more?
  ASSIGN_OR_RETURN(PgResult rows, conn.Exec(sql, params));

  size_t bytes = 0;
  for (int row = 0; row < rows.rows(); ++row) {
    const size_t size = RowTextBytes(rows, row);
    if (!page.events.empty() &&
        (page.events.size() == limit || size > q.max_bytes - std::min(bytes, q.max_bytes))) {
      page.more = true;
      break;
    }
    bytes += size;
    page.events.push_back(RecordOf(rows, row));
  }
  if (q.tail) std::reverse(page.events.begin(), page.events.end());
  RETURN_IF_ERROR(tx.Commit());
  return page;
}

Result<int64_t> DeleteExpiredEvents(PgConnection& conn, const EventRetention& retention) {
  PgTransaction tx(conn);
  RETURN_IF_ERROR(tx.begun());
  ASSIGN_OR_RETURN(PgResult bounds, conn.Exec("SELECT min(seq), max(seq) FROM event"));
  if (bounds.IsNull(0, 0)) return int64_t{0};  // nothing sequenced
  const int64_t oldest = bounds.Int(0, 0);
  const int64_t newest = bounds.Int(0, 1);
  // Everything below keep_from goes: by count (seqs are dense but for retention's cuts and a
  // rolled-back pass's numbers, so newest - max_events is exact enough), then by age.
  int64_t keep_from = std::max(oldest, newest - retention.max_events + 1);
  ASSIGN_OR_RETURN(PgResult young,
                   conn.Exec("SELECT seq FROM event WHERE seq >= $1 AND time >= $2 "
                             "ORDER BY seq LIMIT 1",
                             {PgParam::Int(keep_from), PgParam::Int(retention.min_time_ms)}));
  keep_from = young.rows() > 0 ? young.Int(0, 0) : newest + 1;
  // Nothing the local follower has not delivered goes; one slice at a time keeps the
  // transaction short.
  keep_from = std::min({keep_from, oldest + retention.max_delete, retention.delivered_seq + 1});
  if (keep_from <= oldest) return int64_t{0};
  ASSIGN_OR_RETURN(PgResult deleted,
                   conn.Exec("DELETE FROM event WHERE seq < $1", {PgParam::Int(keep_from)}));
  RETURN_IF_ERROR(tx.Commit());
  return deleted.affected();
}

}  // namespace batchd::storage::pg
