// How the CLI talks to a running daemon: plain HTTP requests and the WebSocket event stream,
// blocking, one connection per request. Beast stays in daemon_client.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.h"

namespace batchd::cli {

// Where the daemon is: from --server or BATCHD_URL, e.g. "http://127.0.0.1:8080" or
// "http://batchd.internal:80/prefix" (requests go under the prefix).
struct ServerAddress {
  std::string host;
  std::string port;
  std::string base_path;         // "" or "/prefix" (no trailing slash)
  std::string ToString() const;  // "http://host:port/prefix"
};

// kInvalidArgument naming what is wrong: only http:// URLs with a host are understood.
Result<ServerAddress> ParseServerUrl(std::string_view url);

struct HttpResult {
  int status = 0;
  std::string body;
  // By lower-case name (a repeated header keeps its last value).
  std::map<std::string, std::string> headers;

  // The header `lower_case_name`, or "" if absent.
  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
  }
};

// One WebSocket event stream (docs/api.md, "The WebSocket stream").
class EventSocket {
 public:
  virtual ~EventSocket() = default;
  struct Closed {
    int code = 0;
    std::string reason;
  };
  // The next text message, or Closed when the server ended the stream with a close frame.
  // kIoError when the connection broke (or the server stopped answering pings).
  virtual Result<std::variant<std::string, Closed>> Next() = 0;
};

class DaemonClient {
 public:
  explicit DaemonClient(ServerAddress address,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~DaemonClient();

  const ServerAddress& address() const { return address_; }

  // A bearer token (--token or BATCHD_TOKEN) sent with every request and event stream as
  // `Authorization: Bearer TOKEN`; empty: none. Never printed.
  void set_token(std::string token) { token_ = std::move(token); }

  // `target` is the path and query under the base path ("/api/v1/batches?limit=5").
  // kUnavailable when the daemon cannot be reached (the message names the address); kIoError
  // when the connection broke or the answer took longer than the timeout.
  Result<HttpResult> Request(std::string_view method, std::string_view target,
                             std::string_view body = {});

  // GET `target`, handing a 2xx answer's body to `sink` piece by piece as it arrives, so that an
  // export of any size passes through in constant memory; the HttpResult's body is then empty.
  // Any other answer's body is returned whole in HttpResult::body (error bodies are small). The
  // timeout applies to each read, not to the whole answer. As Request for unreachable daemons;
  // kIoError when the connection broke, also part-way through the body (what `sink` got is then
  // incomplete).
  Result<HttpResult> Download(std::string_view target,
                              const std::function<void(std::string_view)>& sink);

  // Upgrades a GET of `target` to a WebSocket. As Request for unreachable daemons;
  // kFailedPrecondition "HTTP <status>: <body>" when the daemon answers without upgrading.
  Result<std::unique_ptr<EventSocket>> OpenEvents(std::string_view target);

 private:
  ServerAddress address_;
  std::chrono::milliseconds timeout_;
  std::string token_;
};

}  // namespace batchd::cli
