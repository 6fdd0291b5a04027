#include "cli/daemon_client.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace batchd::cli {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

namespace {

// Starts an asynchronous operation with `start(handler)` and runs the io_context until its
// handler has run. Other work (the WebSocket's keepalive timer) runs meanwhile but does not
// keep us waiting once the operation is done.
template <typename Start>
beast::error_code RunOne(net::io_context& ioc, Start start) {
  beast::error_code ec;
  bool done = false;
  start([&](beast::error_code e, auto&&...) {
    ec = e;
    done = true;
  });
  while (!done) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one();
  }
  return ec;
}

// Resolves and connects `stream` within its expiry. kUnavailable names the address.
Status Connect(net::io_context& ioc, beast::tcp_stream& stream, const ServerAddress& address) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(address.host, address.port, ec);
  if (ec) {
    return Status::Unavailable("cannot resolve " + address.host + ": " + ec.message() +
                               " (set --server or BATCHD_URL)");
  }
  ec = RunOne(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
  if (ec) {
    return Status::Unavailable("cannot reach batchd at " + address.ToString() + ": " +
                               ec.message() + " (is it running? set --server or BATCHD_URL)");
  }
  return Status::Ok();
}

class BeastEventSocket : public EventSocket {
 public:
  BeastEventSocket(std::unique_ptr<net::io_context> ioc,
                   std::unique_ptr<websocket::stream<beast::tcp_stream>> ws)
      : ioc_(std::move(ioc)), ws_(std::move(ws)) {}

  Result<std::variant<std::string, Closed>> Next() override {
    buffer_.clear();
    const beast::error_code ec =
        RunOne(*ioc_, [&](auto handler) { ws_->async_read(buffer_, handler); });
    if (ec == websocket::error::closed) {
      const websocket::close_reason& r = ws_->reason();
      return std::variant<std::string, Closed>(
          Closed{r.code, std::string(r.reason.data(), r.reason.size())});
    }
    if (ec) return Status::IoError("the event stream broke: " + ec.message());
    return std::variant<std::string, Closed>(beast::buffers_to_string(buffer_.data()));
  }

 private:
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::string ServerAddress::ToString() const { return "http://" + host + ":" + port + base_path; }

Result<ServerAddress> ParseServerUrl(std::string_view url) {
  const std::string_view scheme = "http://";
  if (url.starts_with("https://")) {
    return Status::InvalidArgument(
        "https is not supported; batchd serves plain http (got '" + std::string(url) + "')",
        "--server");
  }
  if (!url.starts_with(scheme)) {
    return Status::InvalidArgument(
        "the server URL must look like http://HOST:PORT, got '" + std::string(url) + "'",
        "--server");
  }
  std::string_view rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ServerAddress out;
  if (slash != std::string_view::npos) {
    out.base_path = std::string(rest.substr(slash));
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  }
  std::string_view host = authority;
  std::string_view port = "80";
  if (authority.starts_with("[")) {  // [::1]:8080
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unclosed [ in '" + std::string(url) + "'", "--server");
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string_view::npos &&
                       std::stoi(std::string(port)) > 0 && std::stoi(std::string(port)) < 65536;
  if (host.empty() || !port_ok) {
    return Status::InvalidArgument(
        "the server URL must look like http://HOST:PORT, got '" + std::string(url) + "'",
        "--server");
  }
  out.host = std::string(host);
  out.port = std::string(port);
  return out;
}

DaemonClient::DaemonClient(ServerAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

DaemonClient::~DaemonClient() = default;

Result<HttpResult> DaemonClient::Request(std::string_view method, std::string_view target,
                                         std::string_view body) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout_);
  RETURN_IF_ERROR(Connect(ioc, stream, address_));

  http::request<http::string_body> req(
      http::string_to_verb(beast::string_view(method.data(), method.size())),
      address_.base_path + std::string(target), 11);
  req.set(http::field::host, address_.host + ":" + address_.port);
  req.set(http::field::user_agent, "batchd-cli");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  if (!body.empty() || method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();
  beast::error_code ec =
      RunOne(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return Status::IoError("sending to " + address_.ToString() + ": " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 << 20);
  ec = RunOne(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec) return Status::IoError("reading from " + address_.ToString() + ": " + ec.message());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  HttpResult result{static_cast<int>(parser.get().result_int()), parser.get().body(), {}};
  for (const auto& field : parser.get()) {
    const auto raw_name = field.name_string();
    std::string name(raw_name.data(), raw_name.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value().data(), field.value().size());
  }
  return result;
}

Result<HttpResult> DaemonClient::Download(std::string_view target,
                                          const std::function<void(std::string_view)>& sink) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout_);
  RETURN_IF_ERROR(Connect(ioc, stream, address_));
  http::request<http::empty_body> req(http::verb::get, address_.base_path + std::string(target),
                                      11);
  req.set(http::field::host, address_.host + ":" + address_.port);
  req.set(http::field::user_agent, "batchd-cli");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  beast::error_code ec =
      RunOne(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return Status::IoError("sending to " + address_.ToString() + ": " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed, never held
  stream.expires_after(timeout_);
  ec = RunOne(ioc, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
  if (ec) return Status::IoError("reading from " + address_.ToString() + ": " + ec.message());
  HttpResult result{static_cast<int>(parser.get().result_int()), ""};
  const bool ok = result.status >= 200 && result.status <= 299;
  constexpr size_t kMaxErrorBody = 1 << 20;
  std::vector<char> piece(64 << 10);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    stream.expires_after(timeout_);
    ec = RunOne(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
    if (ec == http::error::need_buffer) ec = {};  // the piece is full: hand it on, read on
    if (ec) {
      return Status::IoError("reading from " + address_.ToString() +
                             " (the answer is incomplete): " + ec.message());
    }
    const size_t n = piece.size() - parser.get().body().size;
    if (ok) {
      sink(std::string_view(piece.data(), n));
    } else if (result.body.size() < kMaxErrorBody) {
      result.body.append(piece.data(), std::min(n, kMaxErrorBody - result.body.size()));
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return result;
}

Result<std::unique_ptr<EventSocket>> DaemonClient::OpenEvents(std::string_view target) {
  auto ioc = std::make_unique<net::io_context>();
  auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(*ioc);
  beast::get_lowest_layer(*ws).expires_after(timeout_);
  RETURN_IF_ERROR(Connect(*ioc, beast::get_lowest_layer(*ws), address_));

  ws->set_option(websocket::stream_base::decorator([token = token_](websocket::request_type& r) {
    r.set(http::field::user_agent, "batchd-cli");
    if (!token.empty()) r.set(http::field::authorization, "Bearer " + token);
  }));
  websocket::response_type response;
  const beast::error_code ec = RunOne(*ioc, [&](auto handler) {
    ws->async_handshake(response, address_.host + ":" + address_.port,
                        address_.base_path + std::string(target), handler);
  });
  if (ec == websocket::error::upgrade_declined) {
    return Status::FailedPrecondition("HTTP " + std::to_string(response.result_int()) + ": " +
                                      response.body());
  }
  if (ec) return Status::IoError("opening the event stream: " + ec.message());
  // From here the WebSocket's own timeouts apply: it pings a silent server and gives up on one
  // that does not answer, so a watcher never hangs on a dead daemon.
  beast::get_lowest_layer(*ws).expires_never();
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = timeout_;
  timeout.idle_timeout = std::chrono::seconds(60);
  timeout.keep_alive_pings = true;
  ws->set_option(timeout);
  return std::unique_ptr<EventSocket>(new BeastEventSocket(std::move(ioc), std::move(ws)));
}

}  // namespace batchd::cli
