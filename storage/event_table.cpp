#include "storage/event_table.h"

#include <algorithm>

#include <SQLiteCpp/Exception.h>

namespace batchd::storage {
namespace {

// Every column but seq, in the order Append binds and ReadRow reads them (after seq).
constexpr const char* kColumns =
    "time, type, batch, session_id, name, state_from, state_to, sessions, n_uninitialized, "
    "n_in_progress, n_completed, n_error, n_canceled, finished_at, attempt, error_kind, "
    "error_message, retry_at, rate, eta_s, chunk_rate, byte_rate, suppressed, chunks_done, "
    "chunks_total, bytes_done, chunk_ranges";
constexpr int kColumnCount = 27;
// The columns of variable-length text in a row read as "seq, " + kColumns: batch, name,
// state_from, state_to, error_kind, error_message and chunk_ranges.
constexpr int kTextColumns[] = {3, 5, 6, 7, 16, 17, 27};

template <typename T>
void BindOptional(SQLite::Statement& s, int index, const std::optional<T>& v) {
  if (v) {
    s.bind(index, *v);
  } else {
    s.bind(index);
  }
}

void BindText(SQLite::Statement& s, int index, const std::string& v) {
  if (v.empty()) {
    s.bind(index);
  } else {
    s.bind(index, v);
  }
}

std::optional<int64_t> OptionalInt(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

std::optional<double> OptionalReal(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getDouble();
}

std::string Text(const SQLite::Column& c) { return c.isNull() ? std::string() : c.getString(); }

// Reads seq and kColumns from the current row of `s`.
EventRecord ReadRow(SQLite::Statement& s) {
  int i = 0;
  auto col = [&] { return s.getColumn(i++); };
  EventRecord e;
  e.seq = col().getInt64();
  e.time_ms = col().getInt64();
  e.type = ParseEventType(col().getString()).value_or(EventType::kBatchState);
  e.batch_public_id = Text(col());
  e.session_id = OptionalInt(col());
  e.batch_name = Text(col());
  e.from = Text(col());
  e.to = Text(col());
  if (std::optional<int64_t> sessions = OptionalInt(col())) {
    e.sessions = static_cast<uint64_t>(*sessions);
  }
  std::optional<int64_t> n[kSessionStateCount];
  for (auto& v : n) v = OptionalInt(col());
  if (n[0])
    e.counts = SessionCounts{*n[0], n[1].value_or(0), n[2].value_or(0), n[3].value_or(0),
                             n[4].value_or(0)};
  e.finished_at_ms = OptionalInt(col());
  e.attempt = OptionalInt(col());
  e.error_kind = Text(col());
  e.error_message = Text(col());
  e.retry_at_ms = OptionalInt(col());
  e.sessions_per_s = OptionalReal(col());
  e.eta_s = OptionalReal(col());
  e.chunks_per_s = OptionalReal(col());
  e.bytes_per_s = OptionalReal(col());
  e.suppressed_session_events = OptionalInt(col());
  e.chunks_done = OptionalInt(col());
  e.chunks_total = OptionalInt(col());
  e.bytes_done = OptionalInt(col());
  const SQLite::Column ranges = col();
  if (!ranges.isNull()) e.done_ranges = DecodeChunkRanges(ranges.getString());
  return e;
}

// The bytes of text in the current row of `s` (the columns ReadRow reads as strings), before
// reading them: every rendering of the event holds each of them at least once.
size_t RowTextBytes(SQLite::Statement& s) {
  size_t total = 0;
  for (int column : kTextColumns) total += static_cast<size_t>(s.getColumn(column).getBytes());
  return total;
}

}  // namespace

EventAppender::EventAppender(SQLite::Database& db)
    : insert_(db, std::string("INSERT INTO event (") + kColumns +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)") {
  static_assert(kColumnCount == 27);
}

void EventAppender::Append(const EventRecord& e) {
  SQLite::Statement& s = insert_;
  s.reset();
  s.clearBindings();
  int i = 1;
  s.bind(i++, e.time_ms);
  s.bind(i++, EventTypeName(e.type));
  s.bind(i++, e.batch_public_id);
  BindOptional(s, i++, e.session_id);
  BindText(s, i++, e.batch_name);
  BindText(s, i++, e.from);
  BindText(s, i++, e.to);
  BindOptional(
      s, i++,
      e.sessions ? std::optional<int64_t>(static_cast<int64_t>(*e.sessions)) : std::nullopt);
  if (e.counts) {
    for (int64_t v : {e.counts->uninitialized, e.counts->in_progress, e.counts->completed,
                      e.counts->error, e.counts->canceled}) {
      s.bind(i++, v);
    }
  } else {
    i += kSessionStateCount;  // left NULL by clearBindings
  }
  BindOptional(s, i++, e.finished_at_ms);
  BindOptional(s, i++, e.attempt);
  BindText(s, i++, e.error_kind);
  BindText(s, i++, e.error_message);
  BindOptional(s, i++, e.retry_at_ms);
  BindOptional(s, i++, e.sessions_per_s);
  BindOptional(s, i++, e.eta_s);
  BindOptional(s, i++, e.chunks_per_s);
  BindOptional(s, i++, e.bytes_per_s);
  BindOptional(s, i++, e.suppressed_session_events);
  BindOptional(s, i++, e.chunks_done);
  BindOptional(s, i++, e.chunks_total);
  BindOptional(s, i++, e.bytes_done);
  if (e.done_ranges) s.bind(i, EncodeChunkRanges(*e.done_ranges));
  s.exec();
}

int64_t LatestEventSeq(SQLite::Database& db) {
  SQLite::Statement s(db, "SELECT seq FROM sqlite_sequence WHERE name = 'event'");
  return s.executeStep() ? s.getColumn(0).getInt64() : 0;
}

Result<EventPage> ReadEvents(SQLite::Database& db, const EventQuery& q) {
  try {
    // One read transaction: the page and the extent must come from the same snapshot, or a
    // retention delete in between could hide a gap.
    db.exec("BEGIN");
    EventPage page;
    page.latest_seq = LatestEventSeq(db);
    SQLite::Statement oldest(db, "SELECT min(seq) FROM event");
    page.oldest_seq = oldest.executeStep() && !oldest.getColumn(0).isNull()
                          ? oldest.getColumn(0).getInt64()
                          : page.latest_seq + 1;

    std::string sql = std::string("SELECT seq, ") + kColumns + " FROM event WHERE seq > ?";
    if (q.batch_public_id) sql += " AND batch = ?";
    if (q.session_id) sql += " AND session_id = ?";
    if (!q.types.empty()) {
      sql += " AND type IN (";
      for (size_t t = 0; t < q.types.size(); ++t) sql += t == 0 ? "?" : ",?";
      sql += ")";
    }
    sql += q.tail ? " ORDER BY seq DESC LIMIT ?" : " ORDER BY seq LIMIT ?";
    SQLite::Statement s(db, sql);
    int i = 1;
    s.bind(i++, q.after_seq);
    if (q.batch_public_id) s.bind(i++, *q.batch_public_id);
    if (q.session_id) s.bind(i++, *q.session_id);
    for (EventType t : q.types) s.bind(i++, EventTypeName(t));
    const size_t limit = static_cast<size_t>(std::max(1, q.limit));
    s.bind(i, static_cast<int64_t>(limit) + 1);  // one more tells whether the page is the last
    size_t bytes = 0;
    while (s.executeStep()) {
      // Rows are read one at a time, so an event past the byte bound is never kept with them.
      const size_t size = RowTextBytes(s);
      if (!page.events.empty() &&
          (page.events.size() == limit || size > q.max_bytes - std::min(bytes, q.max_bytes))) {
        page.more = true;
        break;
      }
      bytes += size;
      page.events.push_back(ReadRow(s));
    }
    if (q.tail) std::reverse(page.events.begin(), page.events.end());
    db.exec("COMMIT");
    return page;
  } catch (const SQLite::Exception& e) {
    try {
      db.exec("ROLLBACK");
    } catch (const SQLite::Exception&) {
      // BEGIN itself failed: nothing to end.
    }
    return Status::IoError(std::string("reading events: ") + e.what());
  }
}

int64_t DeleteExpiredEvents(SQLite::Database& db, int64_t max_events, int64_t min_time_ms,
                            int64_t max_delete, int64_t published_seq) {
  SQLite::Statement bounds(db, "SELECT min(seq), max(seq) FROM event");
  if (!bounds.executeStep() || bounds.getColumn(0).isNull()) return 0;
  const int64_t oldest = bounds.getColumn(0).getInt64();
  const int64_t newest = bounds.getColumn(1).getInt64();
  // Everything below keep_from goes: by count (seqs are dense except where retention already
  // cut, so newest - max_events is exact enough), then by age.
  int64_t keep_from = std::max(oldest, newest - max_events + 1);
  SQLite::Statement young(
      db, "SELECT seq FROM event WHERE seq >= ? AND time >= ? ORDER BY seq LIMIT 1");
  young.bind(1, keep_from);
  young.bind(2, min_time_ms);
  // No event young enough: all may go. `time` is not indexed, but this scan starts at
  // keep_from and stops at the first young event, which is near the start when it matters.
  keep_from = young.executeStep() ? young.getColumn(0).getInt64() : newest + 1;
  keep_from = std::min({keep_from, oldest + max_delete, published_seq + 1});
  if (keep_from <= oldest) return 0;
  SQLite::Statement drop(db, "DELETE FROM event WHERE seq < ?");
  drop.bind(1, keep_from);
  return drop.exec();
}

}  // namespace batchd::storage
