#include "api/query_params.h"

#include <charconv>

namespace batchd::api {
namespace {

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<int> ParseLimit(const HttpRequest& request, int fallback, int max) {
  auto it = request.query.find("limit");
  if (it == request.query.end()) return fallback;
  std::optional<int64_t> v = ParseInt(it->second);
  if (!v || *v < 1 || *v > max) {
    return Status::Malformed(
        "limit must be an integer from 1 to " + std::to_string(max) + ", got '" + it->second + "'",
        "?limit");
  }
  return static_cast<int>(*v);
}

Result<std::optional<int64_t>> ParseCursor(const HttpRequest& request) {
  auto it = request.query.find("cursor");
  if (it == request.query.end()) return std::optional<int64_t>();
  std::optional<int64_t> v = ParseInt(it->second);
  if (!v || *v < 0) {
    return Status::Malformed(
        "cursor must be a next_cursor from a previous page, got '" + it->second + "'", "?cursor");
  }
  return std::optional<int64_t>(*v);
}

std::optional<int64_t> ParsePositiveId(const std::string& text) {
  std::optional<int64_t> v = ParseInt(text);
  if (!v || *v < 1) return std::nullopt;
  return v;
}

std::string PercentDecode(const std::string& text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::map<std::string, std::string> ParseQueryString(const std::string& query,
                                                    std::optional<std::string>* repeated) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const std::string key = PercentDecode(pair.substr(0, eq), true);
      if (repeated != nullptr && !*repeated && out.count(key)) *repeated = key;
      out[key] = eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    }
    start = amp + 1;
  }
  return out;
}

Status RefuseRepeatedQuery(const HttpRequest& request) {
  if (!request.repeated_query) return Status::Ok();
  return Status::Malformed(
      "query parameter '" + *request.repeated_query + "' is given more than once; give it once",
      "?" + *request.repeated_query);
}

HttpRequest RequestFromTarget(std::string method, std::string_view target, std::string body) {
  HttpRequest out;
  out.method = std::move(method);
  const size_t q = target.find('?');
  out.path = PercentDecode(std::string(target.substr(0, q)), false);
  if (q != std::string_view::npos) {
    out.query = ParseQueryString(std::string(target.substr(q + 1)), &out.repeated_query);
  }
  out.body = std::move(body);
  return out;
}

}  // namespace batchd::api
