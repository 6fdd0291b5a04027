// The request and response as handlers see them: plain data, no Beast. Keeping Beast inside
// http_session.cpp and listener.cpp keeps the rest of api/ quick to compile and easy to test.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace batchd::api {

struct HttpRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // percent-decoded, without the query string
  std::map<std::string, std::string> query;  // percent-decoded; the last value of a repeated key
  std::map<std::string, std::string> path_params;  // filled by the Router ({id} -> "...")
  std::string body;
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
