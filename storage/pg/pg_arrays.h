// PostgreSQL array literals ('{1,2,NULL}') built for one text parameter, so that a round of
// many rows is one statement over unnest($1::bigint[], ...) instead of a statement per row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace batchd::storage::pg {

class PgArray {
 public:
  PgArray& Int(int64_t value);
  PgArray& Null();
  // Quoted, with '"' and '\' escaped: any text (no NUL bytes).
  PgArray& Text(std::string_view text);
  PgArray& OptionalText(const std::optional<std::string>& text);
  // A bytea element in hex form ("\\x0a1b").
  PgArray& Bytes(std::string_view bytes);
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // The literal, e.g. "{1,2}"; "{}" when empty.
  std::string Literal() const { return body_ + "}"; }

 private:
  void Separate();
  std::string body_ = "{";
  size_t count_ = 0;
};

}  // namespace batchd::storage::pg
