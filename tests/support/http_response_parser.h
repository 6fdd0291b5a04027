// Incremental parsing of one HTTP/1.1 response (status line, headers, a Content-Length,
// chunked or close-delimited body). Split from the client so it can be reasoned about alone.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tests/support/http_client.h"

namespace batchd::testing {

enum class ParseProgress { kNeedMore, kComplete };

// Tries to parse a complete response from `raw` (all bytes received so far).
// `peer_closed` says no more bytes will come: a close-delimited body is then complete, and any
// other incomplete message is an error. `head_request` responses have no body.
// kMalformed when `raw` cannot be a valid response.
Result<ParseProgress> ParseHttpResponse(std::string_view raw, bool peer_closed, bool head_request,
                                        HttpResponse& out);

}  // namespace batchd::testing
