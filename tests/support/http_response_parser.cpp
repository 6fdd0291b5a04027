#include "tests/support/http_response_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace batchd::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses "HTTP/1.1 200 OK\r\nName: value\r\n...". `head` excludes the final blank line.
Status ParseHead(std::string_view head, HttpResponse& out) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return Status::Malformed("bad status line: " + std::string(status_line));
  }
  auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, out.status);
  if (ec != std::errc() || ptr != status_line.data() + 12) {
    return Status::Malformed("bad status code: " + std::string(status_line));
  }
  out.headers.clear();
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::Malformed("bad header line: " + std::string(line));
    }
    std::string name = Lower(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    auto [it, inserted] = out.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  return Status::Ok();
}

// Decodes a chunked body from `in`. kNeedMore until the last chunk and trailers have arrived.
Result<ParseProgress> DecodeChunked(std::string_view in, std::string& body) {
  body.clear();
  for (;;) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return ParseProgress::kNeedMore;
    std::string_view size_text = in.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions are ignored
    size_text = Trim(size_text);
    uint64_t size = 0;
    auto [ptr, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size()) {
      return Status::Malformed("bad chunk size: " + std::string(size_text));
    }
    in.remove_prefix(eol + 2);
    if (size == 0) {
      // Trailers (usually none) end with an empty line.
      if (in.starts_with("\r\n")) return ParseProgress::kComplete;
      size_t end = in.find("\r\n\r\n");
      return end == std::string_view::npos ? ParseProgress::kNeedMore : ParseProgress::kComplete;
    }
    if (in.size() < size + 2) return ParseProgress::kNeedMore;
    if (in.substr(size, 2) != "\r\n") return Status::Malformed("chunk not followed by CRLF");
    body.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

}  // namespace

Result<ParseProgress> ParseHttpResponse(std::string_view raw, bool peer_closed, bool head_request,
                                        HttpResponse& out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (peer_closed) return Status::Malformed("connection closed before the response headers");
    return ParseProgress::kNeedMore;
  }
  RETURN_IF_ERROR(ParseHead(raw.substr(0, head_end), out));
  std::string_view rest = raw.substr(head_end + 4);

  bool no_body = head_request || out.status == 204 || out.status == 304 ||
                 (out.status >= 100 && out.status < 200);
  if (no_body) {
    out.body.clear();
    return ParseProgress::kComplete;
  }

  if (auto te = out.headers.find("transfer-encoding"); te != out.headers.end()) {
    if (Lower(te->second).find("chunked") == std::string::npos) {
      return Status::Malformed("unsupported transfer-encoding: " + te->second);
    }
    ASSIGN_OR_RETURN(ParseProgress progress, DecodeChunked(rest, out.body));
    if (progress == ParseProgress::kNeedMore && peer_closed) {
      return Status::Malformed("connection closed inside a chunked body");
    }
    return progress;
  }

  if (auto cl = out.headers.find("content-length"); cl != out.headers.end()) {
    uint64_t length = 0;
    const std::string& text = cl->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return Status::Malformed("bad content-length: " + text);
    }
    if (rest.size() < length) {
      if (peer_closed) return Status::Malformed("connection closed before the whole body");
      return ParseProgress::kNeedMore;
    }
    if (rest.size() > length) return Status::Malformed("bytes after the body");
    out.body.assign(rest);
    return ParseProgress::kComplete;
  }

  // Neither header: the body runs until the server closes the connection.
  if (!peer_closed) return ParseProgress::kNeedMore;
  out.body.assign(rest);
  return ParseProgress::kComplete;
}

}  // namespace batchd::testing
