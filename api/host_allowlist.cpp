#include "api/host_allowlist.h"

#include <algorithm>

#include "core/host_port.h"

namespace batchd::api {
namespace {

// Dotted-quad IPv4 with the first octet 127 (127.0.0.0/8), each part 0..255 in decimal.
bool IsLoopbackIpv4(std::string_view host) {
  int parts = 0;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view part = host.substr(start, dot - start);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    const int value = std::stoi(std::string(part));
    if (value > 255 || (parts == 0 && value != 127)) return false;
    ++parts;
    start = dot + 1;
    if (dot == host.size()) break;
  }
  return parts == 4;
}

}  // namespace

HostAllowlist::HostAllowlist(std::vector<std::string> names) {
  for (const std::string& n : names) names_.push_back(AsciiLower(n));
}

std::string HostAllowlist::HostName(std::string_view host_header) {
  std::string_view h = host_header;
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  // A Host value that does not parse is kept whole: it names no allowed host.
  Result<HostPort> split = ParseHostPort(h);
  std::string host = split.ok() ? std::move(split->host) : std::string(h);
  if (split.ok() && !host.empty() && host.back() == '.') host.pop_back();  // "localhost."
  return AsciiLower(host);
}

bool HostAllowlist::IsLoopbackName(std::string_view host) {
  return host == "localhost" || host == "::1" || IsLoopbackIpv4(host);
}

bool HostAllowlist::IsAllowed(std::string_view host_header) const {
  if (host_header.empty()) return true;
  const std::string host = HostName(host_header);
  if (IsLoopbackName(host)) return true;
  return std::find(names_.begin(), names_.end(), host) != names_.end();
}

}  // namespace batchd::api
