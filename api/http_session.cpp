#include "api/http_session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "api/error_response.h"
#include "api/query_params.h"

namespace batchd::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {

// How much of a refused request body we read and discard before closing, so that the client
// sees our error response instead of a connection reset.
constexpr size_t kMaxDrainBytes = 64 << 20;
constexpr std::chrono::seconds kWriteTimeout{30};
constexpr std::chrono::seconds kDrainTimeout{5};

HttpRequest ToHttpRequest(const http::request<http::string_body>& req) {
  return RequestFromTarget(std::string(req.method_string()),
                           std::string_view(req.target().data(), req.target().size()), req.body());
}

bool IsHarmless(beast::error_code ec) {
  return ec == net::error::operation_aborted || ec == beast::error::timeout ||
         ec == net::error::connection_reset || ec == net::error::eof ||
         ec == http::error::end_of_stream;
}

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state)
    : stream_(std::move(socket)), state_(std::move(state)) {}

void HttpSession::Run() {
  // Start on the session's strand: the socket was accepted onto it.
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
}

void HttpSession::DoRead() {
  if (state_->stopping) return CloseGracefully();
  parser_.emplace();
  parser_->body_limit(state_->options.max_body_bytes);
  parser_->header_limit(state_->options.max_header_bytes);
  stream_.expires_after(state_->options.idle_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
}

void HttpSession::OnRead(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit) {
    return Reject(413, "body_too_large",
                  "request body exceeds the limit of " +
                      std::to_string(state_->options.max_body_bytes) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return Reject(431, "header_too_large", "request headers exceed the limit");
  }
  if (ec) {
    if (!IsHarmless(ec)) {
      if (parser_->got_some()) {
        return Reject(400, "bad_request", "malformed HTTP request: " + ec.message());
      }
      spdlog::debug("http read: {}", ec.message());
    }
    return CloseGracefully();
  }
  const BeastRequest& req = parser_->get();
  request_keep_alive_ = req.keep_alive();
  request_version_ = req.version();
  HttpRequest request = ToHttpRequest(req);
  ++state_->requests_in_flight;
  // The responder may run on any thread; it hops back onto this session's strand.
  auto self = shared_from_this();
  state_->router.Dispatch(request, [self](HttpResponse response) {
    net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->OnResponse(std::move(response));
    });
  });
}

void HttpSession::OnResponse(HttpResponse response) {
  Write(std::move(response), request_keep_alive_ && !state_->stopping, /*counted=*/true);
}

void HttpSession::Write(HttpResponse response, bool keep_alive, bool counted) {
  response_ =
      std::make_shared<BeastResponse>(static_cast<http::status>(response.status), request_version_);
  response_->set(http::field::server, "batchd");
  response_->set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) response_->set(name, value);
  response_->keep_alive(keep_alive);
  response_->body() = std::move(response.body);
  response_->prepare_payload();
  stream_.expires_after(kWriteTimeout);
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), keep_alive, counted));
}

void HttpSession::OnWrite(bool keep_alive, bool counted, beast::error_code ec, std::size_t) {
  if (counted) --state_->requests_in_flight;
  response_.reset();
  if (ec) {
    if (!IsHarmless(ec)) spdlog::debug("http write: {}", ec.message());
    return CloseGracefully();
  }
  if (!keep_alive) {
    // A refused request may still be arriving: read it away so the client sees our response.
    return DrainThenClose();
  }
  DoRead();
}

void HttpSession::Reject(int status, const std::string& code, const std::string& message) {
  Write(ErrorResponse(status, code, message), /*keep_alive=*/false, /*counted=*/false);
}

void HttpSession::DrainThenClose() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.expires_after(kDrainTimeout);
  stream_.async_read_some(net::buffer(drain_buffer_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->drained_bytes_ += n;
                            if (ec || self->drained_bytes_ > kMaxDrainBytes)
                              return self->CloseGracefully();
                            self->DrainThenClose();
                          });
}

void HttpSession::CloseGracefully() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace batchd::api
