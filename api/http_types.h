// The request and response as handlers see them: plain data, no Beast. Keeping Beast inside
// http_session.cpp and listener.cpp keeps the rest of api/ quick to compile and easy to test.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace batchd::api {

struct HttpRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // percent-decoded, without the query string
  std::map<std::string, std::string> query;  // percent-decoded; the last value of a repeated key
  // The first query parameter the target named twice ("?a=1&a=2"): refused (query_params.h).
  std::optional<std::string> repeated_query;
  std::map<std::string, std::string> path_params;  // filled by the Router ({id} -> "...")
  // By lower-case name; a repeated header's values joined with ", ". They include credentials
  // (Authorization, a bearer WebSocket subprotocol): never log a header or a whole request.
  std::map<std::string, std::string> headers;
  std::string body;

  // The value of header `lower_case_name`, or "" if absent.
  const std::string& header(const std::string& lower_case_name) const {
    static const std::string kNone;
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? kNone : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Delivers the response for one request. Callable from any thread, exactly once.
using Responder = std::function<void(HttpResponse)>;

// Handles one request, answering through `respond` now or later from another thread. Handlers
// run on an HTTP thread, so they must hand anything slow (SQLite, parsing a large body) to
// another thread and return.
using Handler = std::function<void(HttpRequest&, Responder)>;

}  // namespace batchd::api
