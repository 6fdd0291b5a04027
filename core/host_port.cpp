#include "core/host_port.h"

#include <algorithm>
#include <charconv>

namespace batchd {

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (text.substr(0, 1) == "[") {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("has an unterminated IPv6 literal");
    }
    host = text.substr(1, close - 1);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("has junk after its IPv6 literal");
      port = after.substr(1);
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("has an IPv6 address without brackets (write [::1]:8080)");
    }
    port = text.substr(colon + 1);
  }
  out.host = std::string(host);
  if (port) {
    if (port->empty()) return Status::InvalidArgument("has an empty port");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (ec != std::errc() || end != port->data() + port->size() || value > 65535) {
      return Status::InvalidArgument("has an invalid port \"" + std::string(*port) + "\"");
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  return (ipv6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

}  // namespace batchd
