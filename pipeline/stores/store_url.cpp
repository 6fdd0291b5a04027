#include "pipeline/stores/store_url.h"

#include "core/host_port.h"

namespace batchd::pipeline {
namespace {

Status BadUrl(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("store URL \"" + std::string(url) + "\" " + std::string(why));
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUnreserved(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
// RFC 3986 pchar minus pct-encoded, plus "/": what may appear literally in a path.
bool IsPathChar(char c) {
  if (IsUnreserved(c)) return true;
  switch (c) {
    case '/':
    case ':':
    case '@':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Result<std::string> ParseUrlScheme(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || !IsAlpha(url.front())) {
    return BadUrl(url, "has no scheme (expected e.g. file:///data/a.zarr or http://host/a.zarr)");
  }
  std::string scheme;
  for (char c : url.substr(0, colon)) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-' && c != '.') {
      return BadUrl(url, "has an invalid scheme");
    }
    scheme.push_back(Lower(c));
  }
  return scheme;
}

Result<StoreUrl> ParseStoreUrl(std::string_view url) {
  ASSIGN_OR_RETURN(std::string scheme, ParseUrlScheme(url));
  std::string_view rest = url.substr(scheme.size() + 1);
  if (rest.substr(0, 2) != "//") {
    return BadUrl(url, "must have the form " + scheme + "://host/path (file:///absolute/path " +
                           "for local files)");
  }
  rest.remove_prefix(2);
  if (rest.find('?') != std::string_view::npos) return BadUrl(url, "must not have a query (\"?\")");
  if (rest.find('#') != std::string_view::npos) {
    return BadUrl(url, "must not have a fragment (\"#\")");
  }

  StoreUrl out;
  out.scheme = std::move(scheme);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl(url, "must not carry user info (\"user@host\")");
  }

  Result<HostPort> split = ParseHostPort(authority);
  if (!split.ok()) return BadUrl(url, split.status().message());
  for (char c : split->host) {
    if (!IsUnreserved(c) && c != ':' && c != '%') return BadUrl(url, "has an invalid host");
  }
  out.host = std::move(split->host);
  if (split->port) {
    if (*split->port == 0) return BadUrl(url, "has an invalid port \"0\"");
    out.port = *split->port;
  }

  for (char c : path) {
    if (c != '%' && !IsPathChar(c)) {
      return BadUrl(url, "has a path character that must be percent-encoded");
    }
  }
  if (Result<std::string> decoded = PercentDecode(path); !decoded.ok()) {
    return BadUrl(url, "has a bad path: " + decoded.status().message());
  }
  out.path = std::string(path);
  return out;
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
    if (lo < 0) {
      return Status::InvalidArgument("malformed percent escape at offset " + std::to_string(i) +
                                     " (want %XX with two hex digits)");
    }
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return Status::InvalidArgument("percent escape %00 (NUL) is not allowed");
    out.push_back(c);
    i += 2;
  }
  return out;
}

void AppendPercentEncoded(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    if (IsUnreserved(c) || c == '/') {
      out.push_back(c);
    } else {
      auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
}

}  // namespace batchd::pipeline
