#include "api/credentials.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace batchd::api {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The comma-separated entries of a header value, trimmed, empty ones dropped.
std::vector<std::string_view> ListEntries(std::string_view value) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= value.size()) {
    const size_t comma = std::min(value.find(',', start), value.size());
    const std::string_view entry = Trim(value.substr(start, comma - start));
    if (!entry.empty()) out.push_back(entry);
    start = comma + 1;
  }
  return out;
}

}  // namespace

Credentials PresentedCredentials(const HttpRequest& request) {
  Credentials out;
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string_view value = Trim(it->second);
    const size_t space = value.find(' ');
    const std::string_view scheme = value.substr(0, space);
    const std::string_view token =
        space == std::string_view::npos ? std::string_view() : Trim(value.substr(space + 1));
    if (!EqualsIgnoringCase(scheme, "bearer") || token.empty()) {
      out.kind = Credentials::Kind::kUnsupported;
      return out;
    }
    out.kind = Credentials::Kind::kBearer;
    out.token = std::string(token);
    return out;
  }
  if (!IsWebSocketUpgrade(request)) return out;
  for (std::string_view entry : ListEntries(request.header("sec-websocket-protocol"))) {
    if (entry.starts_with(kBearerSubprotocolPrefix)) {
      entry.remove_prefix(kBearerSubprotocolPrefix.size());
      out.kind = entry.empty() ? Credentials::Kind::kUnsupported : Credentials::Kind::kBearer;
      out.token = std::string(entry);
      return out;
    }
  }
  return out;
}

bool IsWebSocketUpgrade(const HttpRequest& request) {
  for (std::string_view entry : ListEntries(request.header("upgrade"))) {
    if (EqualsIgnoringCase(entry, "websocket")) return true;
  }
  return false;
}

bool OffersSubprotocol(const HttpRequest& request, std::string_view protocol) {
  const std::vector<std::string_view> offered =
      ListEntries(request.header("sec-websocket-protocol"));
  return std::find(offered.begin(), offered.end(), protocol) != offered.end();
}

}  // namespace batchd::api
