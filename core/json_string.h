// JSON string literals written by hand, for the few places that build JSON text without a DOM
// (the batch list's hot path, the JSON log lines). One escaper, so the two cannot drift apart.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace batchd {

// Appends `text` as a JSON string literal, quotes included, to `out`. Well-formed UTF-8 is
// written exactly as nlohmann::json::dump() writes it with ensure_ascii off: the two-character
// escapes (\" \\ \b \f \n \r \t), \u00xx for the other control characters, every other byte as
// is. Each byte that is not part of a well-formed UTF-8 sequence becomes \ufffd, so the result
// is valid JSON whatever `text` holds.
void AppendJsonString(std::string& out, std::string_view text);

// The length of the well-formed UTF-8 sequence that starts at text[i] (1 for ASCII), or 0 if
// there is none there: overlong forms, surrogates and code points past U+10FFFF are not
// well-formed. Requires i < text.size().
size_t Utf8SequenceLength(std::string_view text, size_t i);

}  // namespace batchd
