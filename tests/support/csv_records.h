// Splits CSV text (RFC 4180: quoted fields with doubled quotes, CRLF record ends) into records
// of fields, for tests of the results export. Written apart from api/csv_text.cpp so that the
// tests do not check the writer with itself. Header-only: unit tests use it too.
#pragma once

#include <string>
#include <vector>

namespace batchd::testing {

// Records of fields. A bare LF inside an unquoted field is kept as data (the export never
// writes one); an unterminated quote ends at the end of the text.
inline std::vector<std::vector<std::string>> ParseCsvRecords(const std::string& text) {
  std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    std::string& field = records.back().back();
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      records.emplace_back(1);
    } else {
      field.push_back(c);
    }
  }
  if (records.back().size() == 1 && records.back()[0].empty()) records.pop_back();
  return records;
}

}  // namespace batchd::testing
