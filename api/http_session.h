// One HTTP/1.1 connection (Beast's advanced-server structure): read a request, dispatch it,
// write the response, repeat while keep-alive. The session lives as long as an operation or a
// pending response holds a shared_ptr to it. Its socket is bound to a strand, so it needs no
// mutex: responses arriving from other threads are posted back onto that strand.
// Internal to api/: include only from the Beast translation units.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <atomic>
#include <memory>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/http_types.h"
#include "api/router.h"
#include "api/server.h"

namespace batchd::api {

// What every connection of one server shares.
struct ServerState {
  ServerState(const Router& r, const ServerOptions& o) : router(r), options(o) {}
  const Router& router;
  const ServerOptions options;
  std::atomic<int> requests_in_flight{0};
  std::atomic<int> websockets_open{0};
  std::atomic<bool> stopping{false};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state);
  void Run();

 private:
  using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
  using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  void OnResponse(HttpResponse response);
  // The request asks to upgrade to the event stream: hand the connection to a WebSocket
  // session, or answer why not.
  void UpgradeToEventStream(HttpRequest& request);
  // Writes `response`; closes afterwards unless keep-alive. `counted` marks a response to a
  // dispatched request (it ends one request in flight).
  void Write(HttpResponse response, bool keep_alive, bool counted);
  void OnWrite(bool keep_alive, bool counted, boost::beast::error_code ec, std::size_t bytes);
  // Answers a request we refuse to read (too large, unparsable), then closes gently.
  void Reject(int status, const std::string& code, const std::string& message);
  void CloseGracefully();
  void DrainThenClose();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<BeastResponse> response_;  // kept alive until its write completes
  bool request_keep_alive_ = false;
  unsigned request_version_ = 11;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_bytes_ = 0;
};

}  // namespace batchd::api
