// One HTTP/1.1 connection (Beast's advanced-server structure): read requests, ask the gate
// about each, dispatch it, and write the answers in request order, while keep-alive. Up to
// ServerOptions::pipeline_limit requests may be read ahead of their answers (pipelining);
// at the limit reading pauses until an answer is written. The session lives as long as an
// operation or a pending answer holds a shared_ptr to it. Its socket is bound to a strand, so
// it needs no mutex: answers arriving from other threads are posted back onto that strand.
// Internal to api/: include only from the Beast translation units.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/http_types.h"
#include "api/router.h"
#include "api/server.h"
#include "core/mutex.h"

namespace batchd::api {

// Every open connection (HTTP and WebSocket), so that a stop can close the ones still open at
// its end: a client that does not read its answer must hold nothing but its own connection.
class OpenConnections {
 public:
  // Posts the connection's own close onto its strand. Called from any thread, any number of
  // times, also after the connection ended.
  using Closer = std::function<void()>;

  uint64_t Add(Closer close);
  void Remove(uint64_t id);
  // Calls every closer (outside the lock) and returns how many there were.
  size_t CloseAll();

 private:
  Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Closer> closers_ GUARDED_BY(mu_);
};

// What every connection of one server shares.
struct ServerState {
  ServerState(const Router& r, const ServerOptions& o) : router(r), options(o) {}
  const Router& router;
  const ServerOptions options;
  // Requests dispatched and not yet written out (requests_in_flight), and among them those
  // whose answer has not even been produced (requests_unanswered).
  std::atomic<int> requests_in_flight{0};
  std::atomic<int> requests_unanswered{0};
  std::atomic<int> websockets_open{0};
  // Open connections counted against max_connections (HTTP sessions and WebSockets), and the
  // ones over it being refused.
  std::atomic<size_t> connections{0};
  std::atomic<size_t> refusing{0};
  std::atomic<bool> stopping{false};
  OpenConnections open;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `over_limit`: the server is at max_connections; this connection gets one 503 and closes.
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state,
              bool over_limit);
  ~HttpSession();
  void Run();

 private:
  using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
  using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

  // A request read and not yet answered. Answers go out in this order whatever order they
  // arrive in, as HTTP/1.1 requires.
  struct Pending {
    uint64_t id = 0;
    unsigned version = 11;
    bool keep_alive = false;
    bool counted = false;  // dispatched: its answer ends one request in flight
    std::string origin;    // the request's Origin, for the answer's CORS headers
    std::optional<HttpResponse> response;
  };

  // An answer whose body is streamed (HttpResponse::stream): its header, then one piece at a
  // time, each asked for once the one before is written.
  struct Streaming {
    using Header = boost::beast::http::response<boost::beast::http::empty_body>;
    std::shared_ptr<BodyStream> body;
    std::unique_ptr<Header> header;
    std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
        serializer;
    std::string piece;    // the piece being written
    bool chunked = true;  // HTTP/1.1; an HTTP/1.0 body ends where the connection does
    bool close_after = false;
  };

  // An upgrade to the event stream, waiting for the answers queued before it to be written.
  struct PendingUpgrade {
    BeastRequest request;
    HttpRequest view;
  };

  void DoRead();
  void OnRead(boost::beast::error_code ec, std::size_t bytes);
  // Queues an answer that needs no dispatch (a refusal, the gate's answer).
  void Answer(HttpResponse response, bool keep_alive);
  void OnResponse(uint64_t id, HttpResponse response);
  void MaybeWrite();
  void OnWrite(bool close_after, boost::beast::error_code ec, std::size_t bytes);
  // A streamed answer: writes its header, then each piece as it arrives, then ends it through
  // OnWrite like any answer. Cut off (the connection closed) if a piece fails or the server
  // stops.
  void StartStream(HttpResponse& response, unsigned version, bool close_after);
  void RequestPiece(boost::beast::error_code ec, std::size_t bytes);
  void OnPiece(Result<std::string> piece);
  void EndStream(boost::beast::error_code ec, std::size_t bytes);
  // Hands the connection to a WebSocket session, or answers why not.
  void StartUpgrade();
  // After the subscription parsed and its batch or session was found (`found` ok) or not.
  void CompleteUpgrade(PendingUpgrade upgrade, EventSubscription subscription, Status found);
  void RefuseUpgrade(const PendingUpgrade& upgrade, const Status& refusal);
  // (Re)starts the idle clock: the connection is closed if it stays without a request.
  void ArmIdleTimer();
  // Ends one request in flight for `p` if it was dispatched and not yet accounted for.
  void Finish(Pending& p);
  void Close();
  void DrainThenClose();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  const bool over_limit_;
  boost::asio::steady_timer idle_timer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::deque<Pending> pending_;
  uint64_t next_id_ = 0;
  std::optional<PendingUpgrade> upgrade_;
  std::shared_ptr<BeastResponse> response_;  // kept alive until its write completes
  std::optional<Streaming> streaming_;       // the answer being streamed, if any
  bool reading_ = false;                     // a read is in flight
  bool read_done_ = false;                   // no more requests will be read from this connection
  bool writing_ = false;
  bool closed_ = false;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_bytes_ = 0;
  std::optional<uint64_t> registered_;  // in state_->open, from Run on
};

}  // namespace batchd::api
