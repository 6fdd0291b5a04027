#include "api/websocket_session.h"

#include <optional>

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "api/credentials.h"

namespace batchd::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;

namespace {

// Clients only ever send pongs, closes and (ignored) small messages.
constexpr size_t kMaxClientMessageBytes = 4096;
constexpr std::chrono::seconds kHandshakeTimeout{10};

bool IsHarmless(beast::error_code ec) {
  return ec == net::error::operation_aborted || ec == websocket::error::closed ||
         ec == beast::error::timeout || ec == net::error::connection_reset ||
         ec == net::error::eof || ec == net::error::broken_pipe;
}

// A close frame's reason is at most 123 bytes; longer text is cut.
websocket::close_reason Reason(int code, const std::string& text) {
  websocket::close_reason r;
  r.code = static_cast<std::uint16_t>(code);
  r.reason.assign(text.data(), std::min(text.size(), r.reason.max_size()));
  return r;
}

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(net::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state,
                   bool select_events_protocol)
      : ws_(std::move(socket)),
        state_(std::move(state)),
        close_deadline_(ws_.get_executor()),
        select_events_protocol_(select_events_protocol) {
    ++state_->websockets_open;
    ++state_->connections;
  }
  ~WebSocketSession() {
    if (registered_) state_->open.Remove(*registered_);
    --state_->connections;
    --state_->websockets_open;
  }

  void Run(beast::flat_buffer buffered, EventSubscription subscription,
           http::request<http::string_body> upgrade) {
    const EventEndpointOptions& events = state_->options.events;
    // The stream wakes us from other threads; the wake only posts a Pump onto our strand, and
    // holds us weakly so that a stream never keeps a dead connection alive.
    std::weak_ptr<WebSocketSession> weak = weak_from_this();
    auto executor = ws_.get_executor();
    stream_ = std::make_shared<EventStream>(std::move(subscription), *events.hub, *events.store,
                                            events.stream, [weak, executor] {
                                              net::post(executor, [weak] {
                                                if (auto self = weak.lock()) self->Pump();
                                              });
                                            });
    buffered_ = std::move(buffered);
    upgrade_ = std::move(upgrade);
    // A stop that finds the connection still open at its end cuts it (Server::Stop).
    registered_ = state_->open.Add([weak, executor] {
      net::post(executor, [weak] {
        if (auto self = weak.lock()) self->Abandon();
      });
    });
    net::dispatch(ws_.get_executor(),
                  beast::bind_front_handler(&WebSocketSession::Accept, shared_from_this()));
  }

 private:
  void Accept() {
    const EventEndpointOptions& events = state_->options.events;
    // Beast's own keepalive: after ping_interval of silence from the client it pings, and
    // after another ping_interval it closes (a client that stopped reading never pongs).
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = kHandshakeTimeout;
    timeout.idle_timeout = events.ping_interval * 2;
    timeout.keep_alive_pings = true;
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    ws_.set_option(timeout);
    // A browser that offered subprotocols (the dashboard: batchd.events and its bearer token)
    // fails the connection unless one is selected; the token itself is never echoed.
    ws_.set_option(websocket::stream_base::decorator(
        [select = select_events_protocol_](websocket::response_type& r) {
          r.set(http::field::server, "batchd");
          if (select) r.set(http::field::sec_websocket_protocol, std::string(kEventsSubprotocol));
        }));
    ws_.read_message_max(kMaxClientMessageBytes);
    ws_.async_accept(upgrade_,
                     beast::bind_front_handler(&WebSocketSession::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec) {
    upgrade_ = {};
    if (ec) {
      if (!IsHarmless(ec)) spdlog::debug("websocket accept: {}", ec.message());
      return;
    }
    if (Status s = stream_->Start(); !s.ok()) {
      return Close(Reason(kCloseTryLater, s.message()));
    }
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffered_,
                   beast::bind_front_handler(&WebSocketSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      if (!IsHarmless(ec)) spdlog::debug("websocket read: {}", ec.message());
      return Abandon();
    }
    buffered_.consume(buffered_.size());  // client messages carry nothing we act on
    DoRead();
  }

  // Sends what the stream has, one write at a time.
  void Pump() {
    if (closing_ || !ws_.is_open()) return;
    if (std::optional<EventStream::Close> c = stream_->TakeClose()) {
      return Close(Reason(c->code, c->reason));
    }
    if (writing_) return;
    EventStream::Next next = stream_->Take();
    if (auto* m = std::get_if<EventStream::Message>(&next)) {
      writing_ = true;
      in_flight_ = std::move(m->text);
      ws_.text(true);
      ws_.async_write(net::buffer(*in_flight_),
                      beast::bind_front_handler(&WebSocketSession::OnWrite, shared_from_this()));
    } else if (auto* c = std::get_if<EventStream::Close>(&next)) {
      Close(Reason(c->code, c->reason));
    }
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    in_flight_.reset();
    if (ec) {
      if (!IsHarmless(ec)) spdlog::debug("websocket write: {}", ec.message());
      return Abandon();
    }
    Pump();
  }

  // A close handshake; if the client does not take our last write (it stopped reading), the
  // close cannot be sent, and the deadline cuts the connection instead.
  void Close(const websocket::close_reason& reason) {
    if (closing_) return;
    closing_ = true;
    close_deadline_.expires_after(state_->options.events.close_timeout);
    close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Abandon();
    });
    ws_.async_close(reason, [self = shared_from_this()](beast::error_code ec) {
      self->close_deadline_.cancel();
      if (ec && !IsHarmless(ec)) spdlog::debug("websocket close: {}", ec.message());
    });
  }

  // Tears the connection down without a handshake: pending operations end with
  // operation_aborted and release the session.
  void Abandon() {
    close_deadline_.cancel();
    stream_->Shutdown();  // stop queueing for us
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<ServerState> state_;
  net::steady_timer close_deadline_;
  std::shared_ptr<EventStream> stream_;
  beast::flat_buffer buffered_;
  http::request<http::string_body> upgrade_;
  std::shared_ptr<const std::string> in_flight_;  // kept alive until its write completes
  bool writing_ = false;
  bool closing_ = false;
  const bool select_events_protocol_;
  std::optional<uint64_t> registered_;  // in state_->open, from Run on
};

}  // namespace

void StartEventWebSocket(net::ip::tcp::socket&& socket, beast::flat_buffer buffered,
                         std::shared_ptr<ServerState> state, EventSubscription subscription,
                         http::request<http::string_body>&& upgrade, bool select_events_protocol) {
  std::make_shared<WebSocketSession>(std::move(socket), std::move(state), select_events_protocol)
      ->Run(std::move(buffered), std::move(subscription), std::move(upgrade));
}

}  // namespace batchd::api
