// Free text the daemon itself writes from what it was given (error messages quote URLs, keys,
// servers' answers) is stored per session and echoed in events and lists, so it is kept short:
// a message past its bound is cut, at a character boundary, with a note of what was cut.
#pragma once

#include <cstddef>
#include <string>

namespace batchd {

// `text` if it has at most `max_bytes` bytes; otherwise its first bytes, cut before a UTF-8
// character that would not fit, followed by " ... (N bytes cut)", in at most `max_bytes` bytes
// all told (for max_bytes >= 64; a smaller bound gets the cut text alone). Never splits a
// multi-byte character, so valid UTF-8 stays valid.
std::string BoundedText(std::string text, size_t max_bytes);

}  // namespace batchd
