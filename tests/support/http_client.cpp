#include "tests/support/http_client.h"

#include <cstdio>

#include "tests/support/http_response_parser.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {

nlohmann::json HttpResponse::Json() const {
  return nlohmann::json::parse(body, /*cb=*/nullptr, /*allow_exceptions=*/false);
}

std::string HttpResponse::Describe() const {
  return "HTTP " + std::to_string(status) + ": " + body;
}

Result<HttpResponse> HttpClient::Post(std::string_view target, std::string_view body,
                                      std::string_view content_type) {
  HttpHeaders headers;
  if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
  return Request("POST", target, body, headers);
}

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         std::string_view body, const HttpHeaders& headers) {
  ASSIGN_OR_RETURN(LoopbackSocket socket, LoopbackSocket::Connect(port_, timeout_));

  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: 127.0.0.1:").append(std::to_string(port_)).append("\r\n");
  request.append("Connection: close\r\n");
  for (const auto& [name, value] : headers) request.append(name + ": " + value + "\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  request.append("\r\n").append(body);

  // A failed send is not final: a server may answer (e.g. 413) and close before reading an
  // oversized body. Only when no response can be read is the send error reported.
  Status sent = socket.SendAll(request);

  std::string raw;
  HttpResponse response;
  bool head = method == "HEAD";
  for (;;) {
    Result<bool> more = socket.ReceiveSome(raw);
    if (!more.ok()) {
      // A reset after a complete response (e.g. unread request bytes) still leaves the answer.
      Result<ParseProgress> done = ParseHttpResponse(raw, /*peer_closed=*/true, head, response);
      if (done.ok()) return response;
      return sent.ok() ? more.status() : sent;
    }
    Result<ParseProgress> progress = ParseHttpResponse(raw, !*more, head, response);
    if (!progress.ok()) return sent.ok() ? progress.status() : sent;
    if (*progress == ParseProgress::kComplete) return response;
  }
}

std::string UrlEncode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      out.append(escaped);
    }
  }
  return out;
}

}  // namespace batchd::testing
