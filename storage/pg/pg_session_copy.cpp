#include "storage/pg/pg_session_copy.h"

#include <charconv>

namespace batchd::storage::pg {
namespace {
// An int64 in decimal is at most 20 characters; three of them and three separators a row.
constexpr size_t kMaxRowBytes = 3 * 20 + 3;
}  // namespace

void BuildSessionCopyRows(std::string& out, int64_t first_session_id, int64_t batch_id,
                          uint64_t first_ordinal, uint64_t count) {
  // batch_id is the same on every row: its text is written once and copied.
  char batch_text[24];
  const size_t batch_len = static_cast<size_t>(
      std::to_chars(batch_text, batch_text + sizeof batch_text, batch_id).ptr - batch_text);
  out.resize(count * kMaxRowBytes);
  char* p = out.data();
  char* const end = p + out.size();
  int64_t id = first_session_id + static_cast<int64_t>(first_ordinal);
  uint64_t ordinal = first_ordinal;
  for (uint64_t i = 0; i < count; ++i, ++id, ++ordinal) {
    p = std::to_chars(p, end, id).ptr;
    *p++ = '\t';
    for (size_t k = 0; k < batch_len; ++k) *p++ = batch_text[k];
    *p++ = '\t';
    p = std::to_chars(p, end, ordinal).ptr;
    *p++ = '\n';
  }
  out.resize(static_cast<size_t>(p - out.data()));
}

}  // namespace batchd::storage::pg
