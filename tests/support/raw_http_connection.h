// One keep-alive HTTP/1.1 connection driven byte by byte, for tests of the connection itself
// (pipelining, idle timeouts, connection limits), which HttpClient's one-request connections
// cannot express. Answers are read one at a time, framed by Content-Length (batchd always sends
// one) or, for 204 and 304, empty.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {

class RawHttpConnection {
 public:
  // As LoopbackSocket::Connect; `timeout` bounds every later send and read.
  static Result<RawHttpConnection> Connect(
      uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  Status Send(std::string_view bytes) { return socket_.SendAll(bytes); }

  // The next answer. kIoError on a timeout, or if the server closed before a whole answer.
  Result<HttpResponse> ReadResponse();

  // Waits until the server closes the connection (an orderly close or a reset), discarding what
  // arrives. kIoError if it is still open after the connection's timeout.
  Status WaitForClose();

  void Close() { socket_.Close(); }

 private:
  explicit RawHttpConnection(LoopbackSocket socket) : socket_(std::move(socket)) {}
  LoopbackSocket socket_;
  std::string buffer_;  // received, not yet returned
};

// Sends `request` (raw bytes) on a new connection to 127.0.0.1:port and reads one answer.
Result<HttpResponse> ExchangeOnce(uint16_t port, std::string_view request);

// The bytes of a keep-alive request: `method target HTTP/1.1`, a Host, `headers`, and a
// Content-Length when there is a body (or the method is POST).
std::string RawRequest(std::string_view method, std::string_view target, std::string_view body = {},
                       const HttpHeaders& headers = {});

}  // namespace batchd::testing
