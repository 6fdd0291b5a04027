// The JSON error contract: {"error": {"code", "message", "path"}} with the matching status.
// See docs/api.md for the table.
#pragma once

#include <string>

#include "api/http_types.h"
#include "core/status.h"

namespace batchd::api {

// Maps a Status to its HTTP status and error code. kMalformed is 400 "malformed_json", or
// "invalid_query" when the path names a query parameter ("?limit"); kInvalidArgument is 422
// "invalid_batch"; kNotFound 404; kConflict 409; kLimitExceeded 413; kUnavailable 503;
// anything else 500 "internal". `code_override`, if not empty, replaces the code.
// The body is always valid JSON: bytes of the message or path that are not UTF-8 (quoted from
// the request) are replaced by U+FFFD.
HttpResponse ErrorResponse(const Status& status, const std::string& code_override = {});

HttpResponse ErrorResponse(int http_status, const std::string& code, const std::string& message,
                           const std::string& path = {});

}  // namespace batchd::api
