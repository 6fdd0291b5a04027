// The HTTP server: a listener and one session per connection on an io_context, dispatching
// every request to a Router. Beast stays behind this header (see http_session.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/event_hub.h"
#include "api/event_stream.h"
#include "api/request_gate.h"
#include "api/router.h"
#include "core/status.h"

namespace batchd::api {

// Where the WebSocket event stream is served (GET with `Upgrade: websocket`); a plain GET of
// the same path is an ordinary route (a page of the stored log, api/event_routes.cpp).
inline constexpr const char* kEventsPath = "/api/v1/events";

// The event stream's dependencies and limits. Without a hub, upgrades are not accepted.
struct EventEndpointOptions {
  EventHub* hub = nullptr;
  storage::Store* store = nullptr;
  EventStreamOptions stream;
  // A connection that sends nothing (not even a pong) for twice this long is closed; after
  // this long of silence the server pings it.
  std::chrono::milliseconds ping_interval{15'000};
  // How long a close may wait for a write the client is not reading before the socket is cut.
  // Generous: the client may only be slow, and meanwhile it holds one message at most.
  std::chrono::milliseconds close_timeout{30'000};
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: the kernel picks a free port (see Server::port())
  int threads = 2;
  // Asked about every request before it is routed or upgraded (tokens, CORS); null: every
  // request goes ahead. Must outlive the Server.
  const RequestGate* gate = nullptr;
  uint64_t max_body_bytes = 8 << 20;     // larger bodies are answered 413 body_too_large
  uint32_t max_header_bytes = 16 << 10;  // larger headers are answered 431 header_too_large
  // Connections open at once (HTTP and WebSocket). One more gets a single 503 unavailable
  // answer and is closed; past kMaxRefusingConnections of those at once, more are closed
  // unanswered.
  size_t max_connections = 2048;
  // Requests read from one connection and not yet answered (HTTP/1.1 pipelining). At the limit
  // the connection is not read until an answer has been written: backpressure, not refusal.
  size_t pipeline_limit = 8;
  // A connection with no request in flight that sends no complete request for this long is
  // closed (idle keep-alive connections, and clients that send too slowly).
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::seconds shutdown_grace{10};  // how long Stop() waits for requests in flight
  // How long Stop() then waits for answers being written (within shutdown_grace).
  std::chrono::milliseconds stop_write_allowance{2000};
  EventEndpointOptions events;
};

// Connections past max_connections being answered 503 at once; more are closed unanswered, so
// that a flood costs a bounded amount of memory and descriptors.
inline constexpr size_t kMaxRefusingConnections = 64;

class Server {
 public:
  // Binds, listens and starts the threads. kIoError naming the address if it cannot bind.
  // `router` must stay valid until the Server is destroyed.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, const Router& router);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound.
  uint16_t port() const;

  // Stops accepting, closes event streams (1001, with the seq to resume from), lets requests
  // in flight be answered (up to shutdown_grace; responses then carry Connection: close) and
  // the answers be written (up to stop_write_allowance more, within the grace), then closes
  // every connection still open (a client not reading its answer, an idle keep-alive, a stream
  // whose client stopped reading) and joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchd::api
