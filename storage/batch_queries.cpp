#include "storage/batch_queries.h"
#include "storage/batch_identity.h"

#include <algorithm>
#include <charconv>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include "storage/json_blob.h"

namespace batchd::storage {
namespace {

// Columns of `batch` in the order ReadBatch expects them; `b` is the table alias.
constexpr const char* kBatchColumns =
    "b.id, b.public_id, b.name, b.priority, b.runs, b.max_running, b.max_attempts, b.state, "
    "b.session_count, b.first_session_id, b.shape, b.n_uninitialized, b.n_in_progress, "
    "b.n_completed, b.n_error, b.n_canceled, b.created_at, b.finished_at, b.result, "
    // In the same statement, so from the same snapshot: the event log's latest seq.
    "(SELECT seq FROM sqlite_sequence WHERE name = 'event')";

// Reads the kBatchColumns starting at column `first`.
BatchRecord ReadBatch(SQLite::Statement& s, int first = 0) {
  auto col = [&](int i) { return s.getColumn(first + i); };
  BatchRecord b;
  b.id = col(0).getInt64();
  b.public_id = col(1).getString();
  b.name = col(2).getString();
  b.priority = col(3).getInt64();
  b.runs = col(4).getInt64();
  if (!col(5).isNull()) b.max_running = col(5).getInt64();
  b.max_attempts = col(6).getInt64();
  b.state = ParseBatchState(col(7).getString()).value_or(BatchState::kQueued);
  b.session_count = static_cast<uint64_t>(col(8).getInt64());
  b.first_session_id = col(9).getInt64();
  b.group_lengths = SplitShape(col(10).getString());
  b.counts = {col(11).getInt64(), col(12).getInt64(), col(13).getInt64(), col(14).getInt64(),
              col(15).getInt64()};
  b.created_at_ms = col(16).getInt64();
  if (!col(17).isNull()) b.finished_at_ms = col(17).getInt64();
  if (!col(18).isNull()) b.result_json = col(18).getString();
  if (!col(19).isNull()) b.event_seq = col(19).getInt64();
  return b;
}

SessionRecord ReadSession(SQLite::Statement& s, const std::string& batch_public_id) {
  SessionRecord r;
  r.id = s.getColumn(0).getInt64();
  r.batch_id = s.getColumn(1).getInt64();
  r.ordinal = static_cast<uint64_t>(s.getColumn(2).getInt64());
  r.state = static_cast<SessionState>(s.getColumn(3).getInt());
  r.attempts = s.getColumn(4).getInt64();
  r.batch_public_id = batch_public_id;
  return r;
}

// The text a batch holds, which its rendering contains at least once: what bounds a page.
size_t TextBytes(const BatchRecord& b) {
  return b.public_id.size() + b.name.size() + (b.result_json ? b.result_json->size() : 0);
}

template <typename F>
auto Guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string(what) + ": " + e.what());
  }
}

// The statements' texts, built once: StatementCache finds statements by their text's address.
const GeneratedSql& BatchListSql(bool by_state) {
  static const GeneratedSql all(std::string("SELECT ") + kBatchColumns +
                                " FROM batch b WHERE b.id < ? ORDER BY b.id DESC LIMIT ?");
  static const GeneratedSql in_state(
      std::string("SELECT ") + kBatchColumns +
      " FROM batch b WHERE b.id < ? AND b.state = ? ORDER BY b.id DESC LIMIT ?");
  return by_state ? in_state : all;
}

const GeneratedSql& BatchByPublicIdSql() {
  static const GeneratedSql sql(std::string("SELECT ") + kBatchColumns +
                                " FROM batch b WHERE b.public_id = ?");
  return sql;
}

}  // namespace

Result<Page<BatchRecord>> QueryBatches(SQLite::Database& db, const BatchListQuery& query) {
  StatementCache one_use(db);
  return QueryBatches(one_use, query);
}

Result<Page<BatchRecord>> QueryBatches(StatementCache& statements, const BatchListQuery& query) {
  return Guarded("listing batches", [&]() -> Result<Page<BatchRecord>> {
    StatementCache::Lease s = statements.Use(BatchListSql(query.state.has_value()));
    int p = 1;
    s->bind(p++, query.before_id.value_or(INT64_MAX));
    if (query.state) s->bind(p++, BatchStateName(*query.state));
    s->bind(p++, query.limit + 1);  // one extra row tells whether there is a next page
    Page<BatchRecord> page;
    size_t bytes = 0;
    while (s->executeStep()) {
      BatchRecord b = ReadBatch(*s);
      const size_t size = TextBytes(b);
      if (!page.items.empty() && (page.items.size() == static_cast<size_t>(query.limit) ||
                                  size > query.max_bytes - std::min(bytes, query.max_bytes))) {
        page.next_cursor = page.items.back().id;  // a row follows: the page ends before it
        break;
      }
      bytes += size;
      page.items.push_back(std::move(b));
    }
    return page;
  });
}

Result<BatchRecord> QueryBatch(SQLite::Database& db, std::string_view public_id) {
  StatementCache one_use(db);
  return QueryBatch(one_use, public_id);
}

Result<BatchRecord> QueryBatch(StatementCache& statements, std::string_view public_id) {
  return Guarded("reading batch", [&]() -> Result<BatchRecord> {
    StatementCache::Lease s = statements.Use(BatchByPublicIdSql());
    s->bind(1, std::string(public_id));
    if (!s->executeStep()) return Status::NotFound("no batch with id " + std::string(public_id));
    return ReadBatch(*s);
  });
}

Result<Page<SessionRecord>> QuerySessions(SQLite::Database& db, const SessionListQuery& query) {
  ASSIGN_OR_RETURN(BatchRecord batch, QueryBatch(db, query.batch_public_id));
  return Guarded("listing sessions", [&]() -> Result<Page<SessionRecord>> {
    std::string sql =
        "SELECT id, batch_id, ordinal, state, attempts FROM session WHERE id > ? AND id < ?";
    if (query.state) sql += " AND state = ?";
    sql += " ORDER BY id LIMIT ?";
    SQLite::Statement s(db, sql);
    int p = 1;
    s.bind(p++, std::max(query.after_id.value_or(0), batch.first_session_id - 1));
    s.bind(p++, batch.first_session_id + static_cast<int64_t>(batch.session_count));
    if (query.state) s.bind(p++, static_cast<int>(*query.state));
    s.bind(p++, query.limit + 1);
    Page<SessionRecord> page;
    while (s.executeStep()) page.items.push_back(ReadSession(s, batch.public_id));
    if (page.items.size() > static_cast<size_t>(query.limit)) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

Result<SessionDetail> QuerySession(SQLite::Database& db, int64_t session_id) {
  return Guarded("reading session", [&]() -> Result<SessionDetail> {
    SQLite::Statement s(db, std::string("SELECT s.id, s.batch_id, s.ordinal, s.state, "
                                        "s.attempts, b.spec, ") +
                                kBatchColumns +
                                " FROM session s JOIN batch b ON b.id = s.batch_id "
                                "WHERE s.id = ? AND b.state != 'enqueuing'");
    s.bind(1, session_id);
    if (!s.executeStep())
      return Status::NotFound("no session with id " + std::to_string(session_id));
    SessionDetail d;
    d.batch = ReadBatch(s, 6);
    d.session = ReadSession(s, d.batch.public_id);
    const SQLite::Column spec = s.getColumn(5);
    ASSIGN_OR_RETURN(d.spec_json,
                     DecompressJson(std::string_view(static_cast<const char*>(spec.getBlob()),
                                                     static_cast<size_t>(spec.getBytes()))));
    ASSIGN_OR_RETURN(d.execution, LoadExecution(db, session_id));
    return d;
  });
}

Result<std::optional<ExecutionRecord>> LoadExecution(SQLite::Database& db, int64_t session_id) {
  return Guarded("reading session state", [&]() -> Result<std::optional<ExecutionRecord>> {
    SQLite::Statement s(db,
                        "SELECT state, chunks_done, chunks_total, result, error_kind, "
                        "error_message, checkpoint FROM session_state WHERE session_id = ?");
    s.bind(1, session_id);
    if (!s.executeStep()) return std::optional<ExecutionRecord>();
    ExecutionRecord e;
    const SQLite::Column state = s.getColumn(0);
    if (!state.isNull()) {
      ASSIGN_OR_RETURN(e.state_json,
                       DecompressJson(std::string_view(static_cast<const char*>(state.getBlob()),
                                                       static_cast<size_t>(state.getBytes()))));
    }
    e.chunks_done = s.getColumn(1).getInt64();
    e.chunks_total = s.getColumn(2).getInt64();
    if (!s.getColumn(3).isNull()) e.result_json = s.getColumn(3).getString();
    if (!s.getColumn(4).isNull()) e.error_kind = s.getColumn(4).getString();
    if (!s.getColumn(5).isNull()) e.error_message = s.getColumn(5).getString();
    if (!s.getColumn(6).isNull()) e.checkpoint_json = s.getColumn(6).getString();
    return std::optional<ExecutionRecord>(std::move(e));
  });
}

Result<std::string> QueryBatchSpec(SQLite::Database& db, int64_t batch_id) {
  return Guarded("reading batch spec", [&]() -> Result<std::string> {
    SQLite::Statement s(db, "SELECT spec FROM batch WHERE id = ?");
    s.bind(1, batch_id);
    if (!s.executeStep()) return Status::NotFound("no batch " + std::to_string(batch_id));
    const SQLite::Column spec = s.getColumn(0);
    return DecompressJson(std::string_view(static_cast<const char*>(spec.getBlob()),
                                           static_cast<size_t>(spec.getBytes())));
  });
}

Result<QueueStatus> QueryQueueStatus(SQLite::Database& db) {
  StatementCache one_use(db);
  return QueryQueueStatus(one_use);
}

Result<QueueStatus> QueryQueueStatus(StatementCache& statements) {
  return Guarded("reading queue status", [&]() -> Result<QueueStatus> {
    QueueStatus q;
    {
      StatementCache::Lease s = statements.Use(
          "SELECT coalesce(sum(n_uninitialized), 0), coalesce(sum(n_in_progress), 0), "
          "coalesce(sum(n_completed), 0), coalesce(sum(n_error), 0), "
          "coalesce(sum(n_canceled), 0), "
          "coalesce(sum(state IN ('queued', 'running', 'paused')), 0) "
          "FROM batch WHERE state != 'enqueuing'");
      s->executeStep();
      q.counts = {s->getColumn(0).getInt64(), s->getColumn(1).getInt64(),
                  s->getColumn(2).getInt64(), s->getColumn(3).getInt64(),
                  s->getColumn(4).getInt64()};
      q.batches_active = s->getColumn(5).getInt64();
    }
    StatementCache::Lease paused =
        statements.Use("SELECT value FROM meta WHERE key = 'queue_paused'");
    paused->executeStep();
    q.paused = paused->getColumn(0).getInt64() != 0;
    return q;
  });
}

}  // namespace batchd::storage
