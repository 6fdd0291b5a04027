#include "tests/support/raw_http_connection.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "tests/support/http_response_parser.h"

namespace batchd::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The body length a head announces: its Content-Length, 0 for 204 and 304, nullopt if it says
// neither (this helper does not read chunked or close-delimited bodies).
std::optional<size_t> BodyLength(std::string_view head) {
  const std::string lower = Lower(head);
  const size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) {
    if (head.substr(9, 3) == "204" || head.substr(9, 3) == "304") return 0;
    return std::nullopt;
  }
  size_t start = at + 17;
  while (start < lower.size() && lower[start] == ' ') ++start;
  size_t length = 0;
  auto [ptr, ec] = std::from_chars(lower.data() + start, lower.data() + lower.size(), length);
  if (ec != std::errc()) return std::nullopt;
  return length;
}

}  // namespace

Result<RawHttpConnection> RawHttpConnection::Connect(uint16_t port,
                                                     std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(LoopbackSocket socket, LoopbackSocket::Connect(port, timeout));
  return RawHttpConnection(std::move(socket));
}

Result<HttpResponse> RawHttpConnection::ReadResponse() {
  for (;;) {
    const size_t head_end = buffer_.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::optional<size_t> length =
          BodyLength(std::string_view(buffer_).substr(0, head_end));
      if (!length) return Status::Malformed("an answer without a Content-Length: " + buffer_);
      const size_t total = head_end + 4 + *length;
      if (buffer_.size() >= total) {
        HttpResponse response;
        Result<ParseProgress> parsed =
            ParseHttpResponse(std::string_view(buffer_).substr(0, total), false, false, response);
        if (!parsed.ok()) return parsed.status();
        buffer_.erase(0, total);
        return response;
      }
    }
    ASSIGN_OR_RETURN(bool more, socket_.ReceiveSome(buffer_));
    if (!more) {
      return Status::IoError("the server closed the connection before a whole answer (have " +
                             std::to_string(buffer_.size()) + " bytes)");
    }
  }
}

Status RawHttpConnection::WaitForClose() {
  for (;;) {
    Result<bool> more = socket_.ReceiveSome(buffer_);
    if (!more.ok()) {
      // A reset is a close too; only a timeout means the connection is still open.
      if (more.status().message().find("timed out") != std::string::npos) return more.status();
      return Status::Ok();
    }
    if (!*more) return Status::Ok();
  }
}

std::string RawRequest(std::string_view method, std::string_view target, std::string_view body,
                       const HttpHeaders& headers) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) out.append(name + ": " + value + "\r\n");
  if (!body.empty() || method == "POST") {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

Result<HttpResponse> ExchangeOnce(uint16_t port, std::string_view request) {
  ASSIGN_OR_RETURN(RawHttpConnection connection, RawHttpConnection::Connect(port));
  RETURN_IF_ERROR(connection.Send(request));
  return connection.ReadResponse();
}

}  // namespace batchd::testing
