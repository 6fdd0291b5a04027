// "HOST[:PORT]" as it appears in URLs, Host headers and flags (--listen, --http-allow): a name
// or IPv4 address, or an IPv6 address in brackets ("[::1]:8080"). The one parser of such text in
// batchd; callers add their own rules (which hosts, whether a port is required, port 0).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchd {

struct HostPort {
  std::string host;              // as written, without the brackets of an IPv6 literal; may be ""
  std::optional<uint16_t> port;  // none when the text names none
};

// Splits `text`. kInvalidArgument with a message that reads after the text's name ("has an
// empty port") on: an unterminated "[", anything but ":PORT" after "]", an unbracketed host
// with more than one ':' (an IPv6 address needs brackets), an empty port, or a port that is
// not a decimal number from 0 to 65535. Does not look at the host's characters.
Result<HostPort> ParseHostPort(std::string_view text);

// "host:port", or "[host]:port" when `host` contains ':' (IPv6), for messages and headers.
std::string FormatHostPort(std::string_view host, uint16_t port);

// `s` with ASCII letters lower-cased (host names, schemes and origins compare without case).
std::string AsciiLower(std::string_view s);

}  // namespace batchd
