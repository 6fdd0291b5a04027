// CSV text as RFC 4180 writes it: fields separated by commas, records ended by CRLF, a field
// quoted when it holds a comma, a double quote, CR or LF, with its quotes doubled. Nothing else
// is changed: the bytes of a field are written as they are (UTF-8 in, UTF-8 out).
// Hand-written rather than a library: writing (not parsing) CSV is these few lines, and the
// Debian CSV libraries are parsers first.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace batchd::api {

// Appends `field` to `out`, quoted if it has to be.
void AppendCsvField(std::string& out, std::string_view field);

// Appends one record: the fields separated by commas, then CRLF.
void AppendCsvRecord(std::string& out, std::initializer_list<std::string_view> fields);

}  // namespace batchd::api
