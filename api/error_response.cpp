#include "api/error_response.h"

#include <nlohmann/json.hpp>

namespace batchd::api {

HttpResponse ErrorResponse(int http_status, const std::string& code, const std::string& message,
                           const std::string& path) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}, {"path", path}}}};
  HttpResponse r;
  r.status = http_status;
  // Messages quote the request (a percent-decoded path, a query value), which may hold bytes
  // that are not UTF-8; dump() would throw on them, so they become U+FFFD.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse ErrorResponse(const Status& status, const std::string& code_override) {
  int http = 500;
  std::string code = "internal";
  switch (status.code()) {
    case StatusCode::kMalformed:
      http = 400;
      code = status.path().starts_with("?") ? "invalid_query" : "malformed_json";
      break;
    case StatusCode::kInvalidArgument:
      http = 422;
      code = "invalid_batch";
      break;
    case StatusCode::kNotFound:
      http = 404;
      code = "not_found";
      break;
    case StatusCode::kConflict:
      http = 409;
      code = "conflict";
      break;
    case StatusCode::kLimitExceeded:
      http = 413;
      code = "limit_exceeded";
      break;
    case StatusCode::kUnavailable:
      http = 503;
      code = "unavailable";
      break;
    default:
      break;
  }
  return ErrorResponse(http, code_override.empty() ? code : code_override, status.message(),
                       status.path());
}

}  // namespace batchd::api
