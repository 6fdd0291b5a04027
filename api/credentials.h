// Where a request carries its bearer token (docs/api.md, "Authentication"):
//
// - the `Authorization: Bearer TOKEN` header, on any request;
// - for a WebSocket upgrade only, a `Sec-WebSocket-Protocol` entry `bearer.TOKEN`, offered next
//   to `batchd.events`: browsers cannot set headers on a WebSocket, but they can offer
//   subprotocols, and unlike a query parameter a subprotocol ends up in no URL, history or
//   access log. The server then selects `batchd.events` (never echoing the token).
#pragma once

#include <string>
#include <string_view>

#include "api/http_types.h"

namespace batchd::api {

inline constexpr std::string_view kEventsSubprotocol = "batchd.events";
inline constexpr std::string_view kBearerSubprotocolPrefix = "bearer.";

struct Credentials {
  enum class Kind {
    kNone,         // nothing presented
    kBearer,       // `token` holds what was presented (not yet checked)
    kUnsupported,  // an Authorization header with another scheme, or an empty bearer token
  };
  Kind kind = Kind::kNone;
  std::string token;
};

// The credentials `request` presents; a header wins over a subprotocol.
Credentials PresentedCredentials(const HttpRequest& request);

// Whether `request` asks to upgrade to a WebSocket (Upgrade: websocket).
bool IsWebSocketUpgrade(const HttpRequest& request);

// Whether the request's Sec-WebSocket-Protocol offers `protocol` (exact, case-sensitive).
bool OffersSubprotocol(const HttpRequest& request, std::string_view protocol);

}  // namespace batchd::api
