#include "storage/pg/pg_arrays.h"

namespace batchd::storage::pg {

void PgArray::Separate() {
  if (count_++ > 0) body_ += ',';
}

PgArray& PgArray::Int(int64_t value) {
  Separate();
  body_ += std::to_string(value);
  return *this;
}

PgArray& PgArray::Null() {
  Separate();
  body_ += "NULL";
  return *this;
}

PgArray& PgArray::Text(std::string_view text) {
  Separate();
  body_ += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') body_ += '\\';
    body_ += c;
  }
  body_ += '"';
  return *this;
}

PgArray& PgArray::OptionalText(const std::optional<std::string>& text) {
  return text ? Text(*text) : Null();
}

PgArray& PgArray::Bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  Separate();
  // The element's text is \x<hex> (bytea's hex input); the backslash is escaped for the array.
  body_ += "\"\\\\x";
  for (unsigned char c : bytes) {
    body_ += kHex[c >> 4];
    body_ += kHex[c & 15];
  }
  body_ += '"';
  return *this;
}

}  // namespace batchd::storage::pg
