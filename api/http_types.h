// The request and response as handlers see them: plain data, no Beast. Keeping Beast inside
// http_session.cpp and listener.cpp keeps the rest of api/ quick to compile and easy to test.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

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

// A response body produced piece by piece (the results export), so that an answer of any size
// takes the memory of one piece. The session asks for the next piece only once the previous one
// is written to the socket: a slow client slows the producer instead of filling memory.
class BodyStream {
 public:
  // A piece of the body; an empty piece ends it. An error ends the answer too, but the body
  // is then cut off (the connection closes before the final chunk), so the client sees a
  // truncated answer rather than a complete-looking one.
  using Deliver = std::function<void(Result<std::string>)>;
  virtual ~BodyStream() = default;
  // Produces the next piece and calls `deliver` exactly once, from any thread. Never called
  // again before `deliver` has run.
  virtual void Next(Deliver deliver) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  // Set: the body comes from here (chunked for HTTP/1.1, closed-delimited for HTTP/1.0) and
  // `body` is ignored.
  std::shared_ptr<BodyStream> stream;
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
