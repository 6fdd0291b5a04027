#include "storage/session_results.h"

#include <algorithm>

#include <SQLiteCpp/Exception.h>

#include "storage/batch_queries.h"

namespace batchd::storage {
namespace {

size_t TextBytes(const SessionResultRow& r) {
  return (r.result_json ? r.result_json->size() : 0) +
         (r.error_message ? r.error_message->size() : 0);
}

}  // namespace

Result<Page<SessionResultRow>> QuerySessionResults(StatementCache& statements,
                                                   const SessionResultsQuery& query) {
  ASSIGN_OR_RETURN(BatchRecord batch, QueryBatch(statements, query.batch_public_id));
  try {
    // A LEFT JOIN: sessions never dequeued have no session_state row and still get a line.
    StatementCache::Lease s = statements.Use(
        "SELECT s.id, s.ordinal, s.state, s.attempts, st.result, st.error_kind, "
        "st.error_message FROM session s LEFT JOIN session_state st ON st.session_id = s.id "
        "WHERE s.id > ? AND s.id < ? ORDER BY s.id LIMIT ?");
    s->bind(1, std::max(query.after_id.value_or(0), batch.first_session_id - 1));
    s->bind(2, batch.first_session_id + static_cast<int64_t>(batch.session_count));
    s->bind(3, query.limit + 1);  // one extra row tells whether there is a next page
    Page<SessionResultRow> page;
    size_t bytes = 0;
    while (s->executeStep()) {
      SessionResultRow r;
      r.id = s->getColumn(0).getInt64();
      r.ordinal = static_cast<uint64_t>(s->getColumn(1).getInt64());
      r.state = static_cast<SessionState>(s->getColumn(2).getInt());
      r.attempts = s->getColumn(3).getInt64();
      if (!s->getColumn(4).isNull()) r.result_json = s->getColumn(4).getString();
      if (!s->getColumn(5).isNull()) r.error_kind = s->getColumn(5).getString();
      if (!s->getColumn(6).isNull()) r.error_message = s->getColumn(6).getString();
      const size_t size = TextBytes(r);
      if (!page.items.empty() && (page.items.size() == static_cast<size_t>(query.limit) ||
                                  size > query.max_bytes - std::min(bytes, query.max_bytes))) {
        page.next_cursor = page.items.back().id;  // a row follows: the page ends before it
        break;
      }
      bytes += size;
      page.items.push_back(std::move(r));
    }
    return page;
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string("listing session results: ") + e.what());
  }
}

}  // namespace batchd::storage
