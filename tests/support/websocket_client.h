// A minimal blocking WebSocket client (RFC 6455) for black-box tests of the event stream:
// handshake, masked client frames, unmasked server frames, fragmented messages, ping/pong and
// close. Like HttpClient it is written on plain sockets, independent of Beast, so the tests do
// not share the daemon's WebSocket code (or its bugs). One thread uses one client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {

struct WebSocketMessage {
  enum class Kind { kText, kBinary, kPing, kPong, kClose };
  Kind kind = Kind::kText;
  std::string payload;  // for kClose: the reason
  int close_code = 0;   // kClose only (1005 when the frame carried none)

  // The text payload as JSON, or a `discarded` value.
  nlohmann::json Json() const;
  std::string Describe() const;  // "text: {...}", "close 4001: reason"
};

struct WebSocketClientOptions {
  // Bounds the handshake and every later read or write.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // Answer pings with pongs without surfacing them (true), or hand them to the caller and not
  // answer (false: a client whose pongs never come).
  bool auto_pong = true;
  int receive_buffer_bytes = 0;  // see LoopbackSocket::Connect
  // Extra handshake headers, e.g. {"Authorization", "Bearer ..."} or
  // {"Sec-WebSocket-Protocol", "batchd.events, bearer.TOKEN"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

class WebSocketClient {
 public:
  // Connects to 127.0.0.1:port and upgrades `target` (e.g. "/api/v1/events?since=0").
  // kUnavailable if nothing listens; kFailedPrecondition "HTTP <status>: <body>" if the server
  // answers without switching protocols; kIoError / kMalformed for broken handshakes.
  static Result<std::unique_ptr<WebSocketClient>> Connect(uint16_t port, std::string_view target,
                                                          WebSocketClientOptions options = {});

  // The next message (data frames reassembled). After a close frame from the server, it is
  // answered and returned as kClose; reads after that fail. kIoError on timeouts and resets
  // (a server that cut the connection without a close frame reads as kIoError "closed").
  Result<WebSocketMessage> Read();

  // The next text message as JSON (pings answered in between). Fails on anything else.
  Result<nlohmann::json> ReadJson();

  Status SendText(std::string_view text);
  Status SendPing(std::string_view payload = {});
  Status SendClose(int code, std::string_view reason = {});

  void Disconnect() { socket_.Close(); }

  // The subprotocol the server selected (its Sec-WebSocket-Protocol), or "" if none.
  const std::string& selected_protocol() const { return protocol_; }

 private:
  WebSocketClient(LoopbackSocket socket, WebSocketClientOptions options, std::string buffered)
      : socket_(std::move(socket)), options_(options), buffer_(std::move(buffered)) {}
  Status SendFrame(int opcode, std::string_view payload);
  // One frame from the buffer, reading more as needed.
  Status ReadFrame(bool* fin, int* opcode, std::string* payload);
  Status Fill(size_t need);

  LoopbackSocket socket_;
  WebSocketClientOptions options_;
  std::string buffer_;  // received, not yet parsed
  std::string protocol_;
  bool closed_ = false;
};

}  // namespace batchd::testing
