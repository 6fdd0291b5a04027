// Store URLs: the parts of "scheme://host[:port]/path" that stores need, percent-decoding of
// paths (file://) and percent-encoding of keys (http://). No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchd::pipeline {

struct StoreUrl {
  std::string scheme;  // lower case: "file", "http"
  std::string host;    // as written, without the brackets of an IPv6 literal; may be empty
  uint16_t port = 0;   // 0 when the URL names none
  std::string path;    // as written (still percent-encoded); empty or starting with "/"
};

// The scheme of `url`, lower-cased, without parsing the rest. kInvalidArgument naming the URL
// if it does not start with "scheme:".
Result<std::string> ParseUrlScheme(std::string_view url);

// Splits `url`. kInvalidArgument naming the URL if it lacks "scheme://", has user info
// ("user@"), a query ("?"), a fragment ("#"), a bad port, a path character that must be
// percent-encoded (space, control, non-ASCII), or a malformed "%XX" escape.
Result<StoreUrl> ParseStoreUrl(std::string_view url);

// Decodes "%XX" escapes. kInvalidArgument on a malformed escape or an escaped NUL byte.
Result<std::string> PercentDecode(std::string_view text);

// Appends `text` to `out`, escaping every byte except RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~) and "/", so a store key becomes a URL path with the same components.
void AppendPercentEncoded(std::string_view text, std::string& out);

}  // namespace batchd::pipeline
