#include "tests/support/websocket_client.h"

#include <boost/uuid/detail/sha1.hpp>

#include <random>

#include "tests/support/http_response_parser.h"

namespace batchd::testing {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string Base64(const unsigned char* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t chunk = (uint32_t{data[i]} << 16) |
                           (i + 1 < n ? uint32_t{data[i + 1]} << 8 : 0) |
                           (i + 2 < n ? uint32_t{data[i + 2]} : 0);
    out.push_back(kAlphabet[(chunk >> 18) & 63]);
    out.push_back(kAlphabet[(chunk >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[chunk & 63] : '=');
  }
  return out;
}

std::string ExpectedAccept(const std::string& key) {
  boost::uuids::detail::sha1 sha;
  const std::string input = key + std::string(kAcceptGuid);
  sha.process_bytes(input.data(), input.size());
  unsigned int digest[5];
  sha.get_digest(digest);
  unsigned char bytes[20];
  for (int i = 0; i < 5; ++i) {
    for (int b = 0; b < 4; ++b)
      bytes[i * 4 + b] = static_cast<unsigned char>(digest[i] >> (24 - 8 * b));
  }
  return Base64(bytes, sizeof bytes);
}

std::mt19937& Rng() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

}  // namespace

nlohmann::json WebSocketMessage::Json() const {
  return nlohmann::json::parse(payload, nullptr, false);
}

std::string WebSocketMessage::Describe() const {
  switch (kind) {
    case Kind::kText:
      return "text: " + payload;
    case Kind::kBinary:
      return "binary (" + std::to_string(payload.size()) + " bytes)";
    case Kind::kPing:
      return "ping";
    case Kind::kPong:
      return "pong";
    case Kind::kClose:
      return "close " + std::to_string(close_code) + ": " + payload;
  }
  return "?";
}

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(uint16_t port,
                                                                  std::string_view target,
                                                                  WebSocketClientOptions options) {
  ASSIGN_OR_RETURN(LoopbackSocket socket,
                   LoopbackSocket::Connect(port, options.timeout, options.receive_buffer_bytes));
  unsigned char nonce[16];
  for (auto& b : nonce) b = static_cast<unsigned char>(Rng()() & 0xff);
  const std::string key = Base64(nonce, sizeof nonce);
  std::string request = "GET " + std::string(target) +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                        key + "\r\n";
  for (const auto& [name, value] : options.headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  RETURN_IF_ERROR(socket.SendAll(request));

  std::string raw;
  size_t head_end = std::string::npos;
  while ((head_end = raw.find("\r\n\r\n")) == std::string::npos) {
    ASSIGN_OR_RETURN(bool more, socket.ReceiveSome(raw));
    if (!more) break;
  }
  if (head_end == std::string::npos) {
    // Not an upgrade: read the whole answer (the server closes after a refusal).
    HttpResponse refused;
    if (ParseHttpResponse(raw, true, false, refused).ok()) {
      return Status::FailedPrecondition(refused.Describe());
    }
    return Status::Malformed("handshake: no complete response, got: " + raw.substr(0, 300));
  }
  const std::string head = raw.substr(0, head_end + 4);
  if (!head.starts_with("HTTP/1.1 101")) {
    // A refusal carries a body: read it to the end of the response.
    HttpResponse refused;
    for (;;) {
      Result<ParseProgress> p = ParseHttpResponse(raw, false, false, refused);
      if (p.ok() && *p == ParseProgress::kComplete) break;
      Result<bool> more = socket.ReceiveSome(raw);
      if (!more.ok() || !*more) {
        if (!ParseHttpResponse(raw, true, false, refused).ok()) {
          return Status::Malformed("handshake: unparsable refusal: " + raw.substr(0, 300));
        }
        break;
      }
    }
    return Status::FailedPrecondition(refused.Describe());
  }
  std::string lower;
  for (char c : head)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const std::string accept_name = "sec-websocket-accept: ";
  const size_t at = lower.find(accept_name);
  if (at == std::string::npos) return Status::Malformed("handshake: no Sec-WebSocket-Accept");
  const size_t value_at = at + accept_name.size();
  const std::string accept = head.substr(value_at, head.find("\r\n", value_at) - value_at);
  if (accept != ExpectedAccept(key)) {
    return Status::Malformed("handshake: Sec-WebSocket-Accept is " + accept);
  }
  auto client = std::unique_ptr<WebSocketClient>(
      new WebSocketClient(std::move(socket), options, raw.substr(head_end + 4)));
  const std::string protocol_name = "\r\nsec-websocket-protocol: ";
  if (const size_t p = lower.find(protocol_name); p != std::string::npos) {
    const size_t value_at = p + protocol_name.size();
    client->protocol_ = head.substr(value_at, head.find("\r\n", value_at) - value_at);
  }
  return client;
}

Status WebSocketClient::SendFrame(int opcode, std::string_view payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xffff) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>(payload.size() >> (8 * i)));
  }
  char mask[4];
  for (char& m : mask) m = static_cast<char>(Rng()() & 0xff);
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(payload[i] ^ mask[i % 4]);
  return socket_.SendAll(frame);
}

Status WebSocketClient::SendText(std::string_view text) { return SendFrame(0x1, text); }
Status WebSocketClient::SendPing(std::string_view payload) { return SendFrame(0x9, payload); }

Status WebSocketClient::SendClose(int code, std::string_view reason) {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xff));
  body.append(reason);
  return SendFrame(0x8, body);
}

Status WebSocketClient::Fill(size_t need) {
  while (buffer_.size() < need) {
    ASSIGN_OR_RETURN(bool more, socket_.ReceiveSome(buffer_));
    if (!more) return Status::IoError("closed by the server without a close frame");
  }
  return Status::Ok();
}

Status WebSocketClient::ReadFrame(bool* fin, int* opcode, std::string* payload) {
  RETURN_IF_ERROR(Fill(2));
  const auto b0 = static_cast<unsigned char>(buffer_[0]);
  const auto b1 = static_cast<unsigned char>(buffer_[1]);
  if (b1 & 0x80) return Status::Malformed("the server masked a frame");
  size_t header = 2;
  uint64_t length = b1 & 0x7f;
  if (length == 126) {
    RETURN_IF_ERROR(Fill(4));
    length = (uint64_t{static_cast<unsigned char>(buffer_[2])} << 8) |
             static_cast<unsigned char>(buffer_[3]);
    header = 4;
  } else if (length == 127) {
    RETURN_IF_ERROR(Fill(10));
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[2 + i]);
    header = 10;
  }
  RETURN_IF_ERROR(Fill(header + length));
  *fin = (b0 & 0x80) != 0;
  *opcode = b0 & 0x0f;
  *payload = buffer_.substr(header, length);
  buffer_.erase(0, header + length);
  return Status::Ok();
}

Result<WebSocketMessage> WebSocketClient::Read() {
  if (closed_) return Status::IoError("the connection is closed");
  WebSocketMessage message;
  bool in_message = false;
  for (;;) {
    bool fin = false;
    int opcode = 0;
    std::string payload;
    RETURN_IF_ERROR(ReadFrame(&fin, &opcode, &payload));
    switch (opcode) {
      case 0x9:  // ping
        if (options_.auto_pong) {
          RETURN_IF_ERROR(SendFrame(0xA, payload));
          continue;
        }
        return WebSocketMessage{WebSocketMessage::Kind::kPing, payload};
      case 0xA:
        return WebSocketMessage{WebSocketMessage::Kind::kPong, payload};
      case 0x8: {
        WebSocketMessage close{WebSocketMessage::Kind::kClose, "", 1005};
        if (payload.size() >= 2) {
          close.close_code = (static_cast<unsigned char>(payload[0]) << 8) |
                             static_cast<unsigned char>(payload[1]);
          close.payload = payload.substr(2);
        }
        // Answer, then end the TCP connection as a client does once the handshake is done.
        (void)SendClose(close.close_code == 1005 ? 1000 : close.close_code);
        socket_.Close();
        closed_ = true;
        return close;
      }
      case 0x0:  // continuation
        if (!in_message) return Status::Malformed("a continuation frame without a message");
        message.payload += payload;
        break;
      case 0x1:
      case 0x2:
        if (in_message) return Status::Malformed("a new message inside a fragmented one");
        in_message = true;
        message.kind =
            opcode == 0x1 ? WebSocketMessage::Kind::kText : WebSocketMessage::Kind::kBinary;
        message.payload = std::move(payload);
        break;
      default:
        return Status::Malformed("unknown opcode " + std::to_string(opcode));
    }
    if (fin) return message;
  }
}

Result<nlohmann::json> WebSocketClient::ReadJson() {
  ASSIGN_OR_RETURN(WebSocketMessage m, Read());
  if (m.kind != WebSocketMessage::Kind::kText) {
    return Status::FailedPrecondition("expected a text message, got " + m.Describe());
  }
  nlohmann::json j = m.Json();
  if (j.is_discarded()) return Status::Malformed("not JSON: " + m.payload);
  return j;
}

}  // namespace batchd::testing
