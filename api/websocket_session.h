// One WebSocket connection carrying an EventStream (Beast's websocket_session shape): the
// upgrade is handed off from the HttpSession, the session lives on the connection's strand as
// long as an operation holds it, one read is always pending (pings, pongs, closes, ignored
// client messages) and one write at most is in flight, fed by EventStream::Take. The server
// pings a silent client and closes one that stays silent. Internal to api/: include only from
// the Beast translation units.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/event_subscription.h"
#include "api/http_session.h"

namespace batchd::api {

// Completes the WebSocket handshake for `upgrade` on `socket` (whose bytes after the request are
// in `buffered`) and streams `subscription`. `select_events_protocol`: the client offered the
// `batchd.events` subprotocol (credentials.h), which the handshake then selects. The
// connection counts against max_connections until it ends.
void StartEventWebSocket(boost::asio::ip::tcp::socket&& socket, boost::beast::flat_buffer buffered,
                         std::shared_ptr<ServerState> state, EventSubscription subscription,
                         boost::beast::http::request<boost::beast::http::string_body>&& upgrade,
                         bool select_events_protocol);

}  // namespace batchd::api
