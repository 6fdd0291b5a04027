#include "api/http_session.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "api/credentials.h"
#include "api/error_response.h"
#include "api/query_params.h"
#include "api/websocket_session.h"

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
// A connection over max_connections gets this long to send its request's header.
constexpr std::chrono::seconds kRefusalReadTimeout{5};

HttpRequest ToHttpRequest(const http::request<http::string_body>& req) {
  return RequestFromTarget(std::string(req.method_string()),
                           std::string_view(req.target().data(), req.target().size()), req.body());
}

// The request's headers by lower-case name, for the gate (credentials, Origin) and handlers.
void CopyHeaders(const http::request<http::string_body>& req, HttpRequest& out) {
  for (const auto& field : req) {
    const auto name_view = field.name_string();
    const auto value_view = field.value();
    std::string name(name_view.data(), name_view.size());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value(value_view.data(), value_view.size());
    auto [it, inserted] = out.headers.emplace(std::move(name), value);
    if (!inserted) it->second.append(", ").append(value);
  }
}

bool IsHarmless(beast::error_code ec) {
  return ec == net::error::operation_aborted || ec == beast::error::timeout ||
         ec == net::error::connection_reset || ec == net::error::eof ||
         ec == http::error::end_of_stream;
}

}  // namespace

uint64_t OpenConnections::Add(Closer close) {
  MutexLock lock(mu_);
  const uint64_t id = next_id_++;
  closers_.emplace(id, std::move(close));
  return id;
}

void OpenConnections::Remove(uint64_t id) {
  Closer gone;  // destroyed outside the lock
  MutexLock lock(mu_);
  auto it = closers_.find(id);
  if (it == closers_.end()) return;
  gone = std::move(it->second);
  closers_.erase(it);
}

size_t OpenConnections::CloseAll() {
  std::vector<Closer> all;
  {
    MutexLock lock(mu_);
    for (const auto& [id, close] : closers_) all.push_back(close);
  }
  for (const Closer& close : all) close();
  return all.size();
}

HttpSession::HttpSession(net::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state,
                         bool over_limit)
    : stream_(std::move(socket)),
      state_(std::move(state)),
      over_limit_(over_limit),
      idle_timer_(stream_.get_executor()) {
  ++(over_limit_ ? state_->refusing : state_->connections);
}

HttpSession::~HttpSession() {
  if (registered_) state_->open.Remove(*registered_);
  --(over_limit_ ? state_->refusing : state_->connections);
}

void HttpSession::Run() {
  registered_ = state_->open.Add([weak = weak_from_this(), executor = stream_.get_executor()] {
    net::post(executor, [weak] {
      if (auto self = weak.lock()) self->Close();
    });
  });
  // Start on the session's strand: the socket was accepted onto it.
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
}

void HttpSession::DoRead() {
  if (closed_ || reading_ || read_done_) return;
  if (state_->stopping) {
    read_done_ = true;
    if (pending_.empty()) Close();
    return;
  }
  if (pending_.size() >= std::max<size_t>(1, state_->options.pipeline_limit)) {
    return;  // backpressure: OnWrite reads again once an answer is out
  }
  parser_.emplace();
  parser_->body_limit(state_->options.max_body_bytes);
  parser_->header_limit(state_->options.max_header_bytes);
  reading_ = true;
  if (over_limit_) {
    // Only the header: enough to answer, and the body is never buffered.
    stream_.expires_after(kRefusalReadTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
    return;
  }
  // The idle timer, not the stream's, bounds reads: a read may be pending for as long as the
  // requests before it take, and only time without a request in flight counts as idle.
  stream_.expires_never();
  if (pending_.empty()) ArmIdleTimer();
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
}

void HttpSession::OnRead(beast::error_code ec, std::size_t) {
  reading_ = false;
  idle_timer_.cancel();
  if (closed_) return;
  if (over_limit_) {
    read_done_ = true;
    if (ec) return Close();
    HttpResponse r = ErrorResponse(503, "unavailable",
                                   "the daemon is at its limit of " +
                                       std::to_string(state_->options.max_connections) +
                                       " connections; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    return Answer(std::move(r), /*keep_alive=*/false);
  }
  if (ec == http::error::body_limit) {
    read_done_ = true;
    return Answer(ErrorResponse(413, "body_too_large",
                                "request body exceeds the limit of " +
                                    std::to_string(state_->options.max_body_bytes) + " bytes"),
                  false);
  }
  if (ec == http::error::header_limit) {
    read_done_ = true;
    return Answer(ErrorResponse(431, "header_too_large",
                                "request headers exceed the limit of " +
                                    std::to_string(state_->options.max_header_bytes) + " bytes"),
                  false);
  }
  if (ec) {
    read_done_ = true;
    if (!IsHarmless(ec)) {
      if (parser_->got_some()) {
        return Answer(ErrorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()),
                      false);
      }
      spdlog::debug("http read: {}", ec.message());
    }
    // The client is gone or went quiet: answer what it asked for, then close.
    if (pending_.empty()) Close();
    return;
  }

  const BeastRequest& req = parser_->get();
  HttpRequest request = ToHttpRequest(req);
  CopyHeaders(req, request);
  Pending p{.id = next_id_++,
            .version = req.version(),
            .keep_alive = req.keep_alive(),
            .origin = request.header("origin")};
  if (!p.keep_alive) read_done_ = true;

  std::optional<HttpResponse> refusal;
  if (state_->options.gate != nullptr) refusal = state_->options.gate->Admit(request);
  if (refusal) {
    p.response = std::move(*refusal);
    pending_.push_back(std::move(p));
    MaybeWrite();
    return DoRead();
  }

  if (beast::websocket::is_upgrade(req) && request.path == kEventsPath &&
      state_->options.events.hub != nullptr) {
    // No more HTTP on this connection; the upgrade waits for the answers queued before it.
    read_done_ = true;
    upgrade_.emplace(PendingUpgrade{parser_->release(), std::move(request)});
    if (pending_.empty() && !writing_) StartUpgrade();
    return;
  }

  p.counted = true;
  ++state_->requests_in_flight;
  ++state_->requests_unanswered;
  const uint64_t id = p.id;
  pending_.push_back(std::move(p));
  // The responder may run on any thread; it hops back onto this session's strand.
  auto self = shared_from_this();
  state_->router.Dispatch(request, [self, id](HttpResponse response) {
    --self->state_->requests_unanswered;  // answered; what remains is writing it
    net::post(self->stream_.get_executor(), [self, id, response = std::move(response)]() mutable {
      self->OnResponse(id, std::move(response));
    });
  });
  DoRead();
}

void HttpSession::Answer(HttpResponse response, bool keep_alive) {
  pending_.push_back(Pending{.id = next_id_++, .keep_alive = keep_alive});
  pending_.back().response = std::move(response);
  MaybeWrite();
}

void HttpSession::OnResponse(uint64_t id, HttpResponse response) {
  auto it =
      std::find_if(pending_.begin(), pending_.end(), [id](const Pending& p) { return p.id == id; });
  if (it == pending_.end()) return;
  if (closed_) {
    Finish(*it);  // nobody to answer any more, but the request is over
    return;
  }
  it->response = std::move(response);
  MaybeWrite();
}

void HttpSession::MaybeWrite() {
  if (closed_ || writing_ || pending_.empty() || !pending_.front().response) return;
  Pending& p = pending_.front();
  // While stopping, the requests already read are answered; the last answer closes.
  const bool close_after =
      !p.keep_alive || (state_->stopping && pending_.size() == 1 && !upgrade_.has_value());
  HttpResponse& response = *p.response;
  if (state_->options.gate != nullptr) state_->options.gate->AddCorsHeaders(p.origin, response);
  if (response.stream) return StartStream(response, p.version, close_after);
  response_ =
      std::make_shared<BeastResponse>(static_cast<http::status>(response.status), p.version);
  response_->set(http::field::server, "batchd");
  if (!response.content_type.empty()) {
    response_->set(http::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) response_->insert(name, value);
  response_->keep_alive(!close_after);
  response_->body() = std::move(response.body);
  response_->prepare_payload();
  writing_ = true;
  stream_.expires_after(kWriteTimeout);  // only the write's clock while a read is pending
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), close_after));
}

void HttpSession::OnWrite(bool close_after, beast::error_code ec, std::size_t) {
  writing_ = false;
  response_.reset();
  Finish(pending_.front());
  pending_.pop_front();
  if (ec) {
    if (!IsHarmless(ec)) spdlog::debug("http write: {}", ec.message());
    return Close();
  }
  if (close_after) {
    // A refused request may still be arriving: read it away so the client sees our answer.
    // With a read of the next request pending, the client sent nothing more to drain.
    if (reading_) return Close();
    return DrainThenClose();
  }
  if (pending_.empty()) {
    if (upgrade_) return StartUpgrade();
    if (read_done_ && !reading_) return Close();
  }
  DoRead();  // resumes a read paused at the pipeline limit
  if (reading_ && pending_.empty()) ArmIdleTimer();
  MaybeWrite();
}

void HttpSession::StartStream(HttpResponse& response, unsigned version, bool close_after) {
  Streaming s;
  s.body = std::move(response.stream);
  s.chunked = version >= 11;
  s.close_after = close_after || !s.chunked;
  s.header =
      std::make_unique<Streaming::Header>(static_cast<http::status>(response.status), version);
  s.header->set(http::field::server, "batchd");
  if (!response.content_type.empty()) {
    s.header->set(http::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) s.header->insert(name, value);
  s.header->keep_alive(!s.close_after);
  s.header->chunked(s.chunked);
  s.serializer = std::make_unique<http::response_serializer<http::empty_body>>(*s.header);
  streaming_ = std::move(s);
  writing_ = true;
  stream_.expires_after(kWriteTimeout);
  http::async_write_header(
      stream_, *streaming_->serializer,
      beast::bind_front_handler(&HttpSession::RequestPiece, shared_from_this()));
}

void HttpSession::RequestPiece(beast::error_code ec, std::size_t bytes) {
  if (!ec && state_->stopping) {
    // A stop does not wait for an export of a million rows: the client sees it cut off.
    ec = net::error::operation_aborted;
  }
  if (ec || closed_) return EndStream(ec, bytes);
  // The piece may come from any thread (a storage thread): it is written from the strand.
  streaming_->body->Next([self = shared_from_this()](Result<std::string> piece) {
    net::post(self->stream_.get_executor(),
              [self, piece = std::move(piece)]() mutable { self->OnPiece(std::move(piece)); });
  });
}

void HttpSession::OnPiece(Result<std::string> piece) {
  if (closed_) {
    streaming_.reset();  // Close() has accounted for the request
    return;
  }
  if (!piece.ok()) {
    spdlog::warn("streamed answer cut off: {}", piece.status().message());
    return EndStream(net::error::operation_aborted, 0);
  }
  auto self = shared_from_this();
  stream_.expires_after(kWriteTimeout);
  if (piece->empty()) {
    if (!streaming_->chunked) return EndStream({}, 0);
    return net::async_write(stream_, http::make_chunk_last(),
                            beast::bind_front_handler(&HttpSession::EndStream, self));
  }
  streaming_->piece = std::move(*piece);
  const net::const_buffer bytes = net::buffer(streaming_->piece);
  if (streaming_->chunked) {
    net::async_write(stream_, http::make_chunk(bytes),
                     beast::bind_front_handler(&HttpSession::RequestPiece, self));
  } else {
    net::async_write(stream_, bytes, beast::bind_front_handler(&HttpSession::RequestPiece, self));
  }
}

void HttpSession::EndStream(beast::error_code ec, std::size_t bytes) {
  const bool close_after = streaming_->close_after;
  streaming_.reset();
  if (closed_) return;  // Close() has accounted for the request
  OnWrite(close_after, ec, bytes);
}

void HttpSession::StartUpgrade() {
  PendingUpgrade upgrade = std::move(*upgrade_);
  upgrade_.reset();
  // Refusals are plain HTTP answers, before any handshake: a bad filter is the client's to fix.
  Result<EventSubscription> subscription = ParseEventSubscription(upgrade.view);
  if (!subscription.ok()) return RefuseUpgrade(upgrade, subscription.status());
  // A stream filtered to a batch or session that does not exist would say hello and then
  // nothing, ever (a mistyped id): it is a 404 instead, looked up before the handshake.
  storage::Store* store = state_->options.events.store;
  const EventFilter& filter = subscription->filter;
  if (store == nullptr || (!filter.batch && !filter.session)) {
    return CompleteUpgrade(std::move(upgrade), std::move(*subscription), Status::Ok());
  }
  auto held = std::make_shared<std::pair<PendingUpgrade, EventSubscription>>(
      std::move(upgrade), std::move(*subscription));
  auto resume = [self = shared_from_this(), held](Status found, const char* param) {
    if (found.code() == StatusCode::kNotFound) {
      found = Status(StatusCode::kNotFound, found.message(), param);
    }
    net::post(self->stream_.get_executor(), [self, held, found = std::move(found)]() mutable {
      self->CompleteUpgrade(std::move(held->first), std::move(held->second), std::move(found));
    });
  };
  if (held->second.filter.batch) {
    store->GetBatch(*held->second.filter.batch,
                    [resume](Result<storage::BatchRecord> r) { resume(r.status(), "?batch"); });
  } else {
    store->GetSession(*held->second.filter.session, [resume](Result<storage::SessionDetail> r) {
      resume(r.status(), "?session");
    });
  }
}

void HttpSession::RefuseUpgrade(const PendingUpgrade& upgrade, const Status& refusal) {
  pending_.push_back(Pending{.id = next_id_++,
                             .version = upgrade.request.version(),
                             .keep_alive = false,
                             .origin = upgrade.view.header("origin")});
  pending_.back().response = ErrorResponse(refusal);
  MaybeWrite();
}

void HttpSession::CompleteUpgrade(PendingUpgrade upgrade, EventSubscription subscription,
                                  Status found) {
  if (closed_) return;
  if (!found.ok()) return RefuseUpgrade(upgrade, found);
  Status room = state_->stopping ? Status::Unavailable("the daemon is stopping")
                                 : state_->options.events.hub->CheckRoom();
  if (!room.ok()) return RefuseUpgrade(upgrade, room);
  closed_ = true;  // the socket is the WebSocket's now
  idle_timer_.cancel();
  const bool select_events_protocol = OffersSubprotocol(upgrade.view, kEventsSubprotocol);
  StartEventWebSocket(stream_.release_socket(), std::move(buffer_), state_, std::move(subscription),
                      std::move(upgrade.request), select_events_protocol);
}

void HttpSession::ArmIdleTimer() {
  idle_timer_.expires_after(state_->options.idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closed_) return;
    // Still nothing owed and nothing received: the connection is idle.
    if (self->reading_ && self->pending_.empty()) self->Close();
  });
}

void HttpSession::Finish(Pending& p) {
  if (!p.counted) return;
  p.counted = false;
  --state_->requests_in_flight;
}

void HttpSession::DrainThenClose() {
  read_done_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.expires_after(kDrainTimeout);
  stream_.async_read_some(net::buffer(drain_buffer_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->drained_bytes_ += n;
                            if (ec || self->drained_bytes_ > kMaxDrainBytes) return self->Close();
                            self->DrainThenClose();
                          });
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  // Answers that arrived but will never be written end their requests now; the others end
  // when they arrive (OnResponse).
  for (Pending& p : pending_) {
    if (p.response) Finish(p);
  }
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace batchd::api
