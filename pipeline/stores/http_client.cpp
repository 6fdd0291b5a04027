// Beast, Asio's SSL streams and OpenSSL live here and nowhere else in pipeline/: the connection
// pools and the request state machine (connect -> TLS handshake -> write -> read -> release or
// retry).
#include "pipeline/stores/http_client.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/vector_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/mutex.h"

namespace batchd::pipeline {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
// Bodies land in Bytes directly: no zeroing, no copy out of the parser.
using BytesBody = http::vector_body<uint8_t, DefaultInitAllocator<uint8_t>>;

// Far above any chunk; a bound so that a broken server cannot make us allocate without limit.
constexpr uint64_t kMaxResponseBytes = uint64_t{1} << 31;
// Receive buffer per connection, and so the largest single read from a socket.
constexpr size_t kReadBufferBytes = 64 * 1024;
// Backoff never waits longer than this, whatever the attempt number.
constexpr int64_t kMaxBackoffMs = 30'000;
// How soon a request notices that it was canceled: while it backs off, and while an attempt
// waits on its connection (a server trickling a large body would otherwise hold a canceled
// session until the attempt's timeout).
constexpr auto kCancelPollInterval = std::chrono::milliseconds(100);

bool IsRetryableStatus(int status) { return status >= 500 || status == 408 || status == 429; }

// How a server's close of an idle keep-alive connection shows up on the next request (a TLS
// server that closes without close_notify: stream_truncated).
bool IsClosedConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == ssl::error::stream_truncated;
}

// A Retry-After header's delay in milliseconds, if it has the delta-seconds form ("120"); an
// HTTP-date or anything else is ignored (the backoff alone applies).
std::optional<int64_t> RetryAfterMs(beast::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;  // 9 digits: over 31 years
  int64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds * 1000;
}

// Verification failures a trusted CA would fix: the hint names where trust comes from.
bool IsUntrustedIssuer(long verify_result) {
  switch (verify_result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return true;
    default:
      return false;
  }
}

// The status code with its standard reason phrase, never the server's own: that is text the
// server chose, and it would travel into session errors.
std::string StatusText(int status) {
  beast::string_view reason = http::obsolete_reason(http::int_to_status(status));
  return std::to_string(status) + " " + std::string(reason.data(), reason.size());
}

int64_t BackoffMs(int base_ms, int retry) {
  int64_t delay = std::max(base_ms, 1);
  for (int i = 1; i < retry && delay < kMaxBackoffMs; ++i) delay *= 2;
  delay = std::min(delay, kMaxBackoffMs);
  // Jitter in the upper half, so that requests failed by one outage do not return in lockstep.
  thread_local std::minstd_rand random(std::random_device{}());
  return delay / 2 + static_cast<int64_t>(random() % static_cast<uint64_t>(delay / 2 + 1));
}

// A concrete strand type rather than tcp_stream's type-erased executor: every async step
// copies the executor, and the type-erased copy showed up in profiles.
using Strand = net::strand<net::io_context::executor_type>;
using Stream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<Stream>;

// A plain or a TLS connection; the TCP stream (its timeout, its socket) is the same in both.
struct Connection {
  // `tls`: the client's TLS context for an https connection, null for http.
  Connection(net::io_context& ioc, ssl::context* tls) {
    if (tls != nullptr) {
      secure.emplace(net::make_strand(ioc.get_executor()), *tls);
    } else {
      plain.emplace(net::make_strand(ioc.get_executor()));
    }
    // Beast reads at most the buffer's free capacity per read (512 bytes for a fresh buffer),
    // so without this a 1 MiB body took thousands of small reads.
    buffer.reserve(kReadBufferBytes);
  }
  Stream& tcp() { return secure ? secure->next_layer() : *plain; }
  // Calls `f` with the stream HTTP messages go through.
  template <typename F>
  void WithStream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }

  // Exactly one is set. Each on its own strand: its timer and I/O handlers never overlap. An
  // open socket means ready for a request (for TLS: handshake done), as a failed connect or
  // handshake closes the connection.
  std::optional<Stream> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;
  int answered = 0;  // responses read on this connection: > 0 means it is a reused one
};

class RequestOp;

// The keep-alive connections to one host:port, and the requests waiting for one. A connection
// is owned by exactly one place at a time: the idle list, or the request using it.
//
// The pool opens at most `limit_` connections, which starts at the options' initial count and
// grows by one, up to the maximum, with each answer after which the server keeps its
// connection open. A server that closes every connection (HTTP/1.0 `python3 -m http.server`,
// `Connection: close`) pays an accept per request and its listen backlog bounds how many
// connections may arrive at once (5 there): more would have their SYNs dropped and wait the
// kernel's 1 s retransmit. One that keeps connections alive can be given more of them.
class HostPool {
 public:
  // `tls`: the TLS context of an https pool, null for http; outlives the pool.
  HostPool(net::io_context& ioc, ssl::context* tls, int initial_connections, int max_connections)
      : ioc_(ioc),
        tls_(tls),
        max_connections_(std::max(max_connections, 1)),
        limit_(std::clamp(initial_connections, 1, max_connections_)) {}

  net::io_context& ioc() { return ioc_; }

  // Hands `op` an idle connection, a new one (under the limit), or queues it for the next free.
  void Acquire(std::shared_ptr<RequestOp> op);

  // Takes back a connection: kept for reuse if `reusable`, closed otherwise; a waiting request
  // gets it (or, if it was closed, a new one). `kept_alive`: it has just carried an answer
  // after which the server keeps it open, so the limit grows by one (and a waiting request may
  // get a new connection under it).
  void Release(std::unique_ptr<Connection> conn, bool reusable, bool kept_alive = false);

  // Closes every idle connection: after one turned out closed by the server, the others (as
  // old, to the same server) likely are too.
  void DropIdle();

 private:
  net::io_context& ioc_;
  ssl::context* const tls_;
  const int max_connections_;
  Mutex mu_;
  int limit_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);  // last = most recently used
  int open_ GUARDED_BY(mu_) = 0;                                   // idle + in use
  std::deque<std::shared_ptr<RequestOp>> waiting_ GUARDED_BY(mu_);
};

// One request, from Send to its callback, through any retries.
class RequestOp : public std::enable_shared_from_this<RequestOp> {
 public:
  RequestOp(std::shared_ptr<HttpClient> client, std::shared_ptr<HostPool> pool, HttpRequest request,
            HttpClient::Callback done)
      : client_(std::move(client)),
        pool_(std::move(pool)),
        request_(std::move(request)),
        done_(std::move(done)) {
    message_.method(request_.method == HttpRequest::Method::kGet ? http::verb::get
                                                                 : http::verb::put);
    message_.target(request_.target);
    message_.version(11);
    message_.set(http::field::host, HttpClient::HostHeader(request_));
    message_.set(http::field::user_agent, "batchd");
    if (!request_.range.empty()) message_.set(http::field::range, request_.range);
    for (const auto& [name, value] : request_.headers) message_.insert(name, value);
    if (request_.method == HttpRequest::Method::kPut) {
      message_.body() = std::move(request_.body);
      message_.prepare_payload();
    }
  }

  // Sends the first attempt. On any thread: it only queues work for the client threads, so the
  // callback never runs on the caller's.
  void Begin() {
    if (Canceled()) {
      net::post(pool_->ioc(),
                [self = shared_from_this()] { self->Finish(Status::Unavailable("canceled")); });
      return;
    }
    StartAttempt();
  }

  // Called by the pool with the connection to use.
  void Run(std::unique_ptr<Connection> conn) {
    conn_ = std::move(conn);
    net::post(conn_->tcp().get_executor(),
              beast::bind_front_handler(&RequestOp::OnConnection, shared_from_this()));
  }

 private:
  const HttpClientOptions& options() const { return client_->options(); }
  bool Canceled() const { return request_.cancel && request_.cancel->canceled(); }

  void StartAttempt() {
    ++attempts_;
    resent_on_new_connection_ = false;
    deadline_ = Clock::now() + std::chrono::milliseconds(options().timeout_ms);
    pool_->Acquire(shared_from_this());
  }

  void OnConnection() {
    if (Canceled()) {
      ReleaseConnection(conn_->tcp().socket().is_open());
      return Finish(Status::Unavailable("canceled"));
    }
    WatchForCancel();
    if (conn_->tcp().socket().is_open()) return Write();
    conn_->tcp().expires_at(deadline_);
    beast::error_code ec;
    net::ip::address address = net::ip::make_address(request_.host, ec);
    if (!ec) {
      if (Status allowed = CheckAddress(address); !allowed.ok()) return Refuse(allowed);
      conn_->tcp().async_connect(
          tcp::endpoint(address, request_.port),
          beast::bind_front_handler(&RequestOp::OnConnect, shared_from_this()));
      return;
    }
    resolver_.emplace(conn_->tcp().get_executor());
    resolver_->async_resolve(request_.host, std::to_string(request_.port),
                             beast::bind_front_handler(&RequestOp::OnResolve, shared_from_this()));
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return Fail(ec, "cannot resolve host");
    // Only the addresses the client may use: a name may resolve to one it must not reach.
    endpoints_.clear();
    Status refused;
    for (const auto& result : results) {
      Status allowed = CheckAddress(result.endpoint().address());
      if (allowed.ok()) {
        endpoints_.push_back(result.endpoint());
      } else if (refused.ok()) {
        refused = allowed;
      }
    }
    if (endpoints_.empty() && !refused.ok()) return Refuse(refused);
    conn_->tcp().expires_at(deadline_);
    conn_->tcp().async_connect(
        endpoints_, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->OnConnect(ec);
        });
  }

  Status CheckAddress(const net::ip::address& address) const {
    if (!options().check_address) return Status::Ok();
    return options().check_address(address.to_string(), request_.port);
  }

  // Ends the request without connecting: the policy refused every address. Not retried (a
  // refusal that may pass later says kUnavailable, which the caller's retry handles).
  void Refuse(const Status& refused) {
    pool_->Release(std::move(conn_), false);
    Finish(Status(refused.code(), Describe() + ": " + refused.message()));
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Fail(ec, "cannot connect");
    if (conn_->secure) return Handshake();
    Write();
  }

  // What the certificate must name: an IP literal is matched against its IP addresses, a name
  // against its DNS names (no partial wildcards) and sent as SNI, which carries names only.
  void Handshake() {
    SSL* ssl = conn_->secure->native_handle();
    beast::error_code not_literal;
    net::ip::make_address(request_.host, not_literal);
    bool set = false;
    if (!not_literal) {
      set = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), request_.host.c_str()) == 1;
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      set = SSL_set1_host(ssl, request_.host.c_str()) == 1 &&
            SSL_set_tlsext_host_name(ssl, request_.host.c_str()) == 1;
    }
    if (!set) {
      return FinishTls("cannot check a certificate against host \"" + request_.host + "\"");
    }
    conn_->tcp().expires_at(deadline_);
    conn_->secure->async_handshake(
        ssl::stream_base::client,
        beast::bind_front_handler(&RequestOp::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (!ec) return Write();
    // TLS itself refused (OpenSSL's errors): the same server answers the same way next time.
    // Anything else (a reset, a timeout, a close) is a connection error, retried as usual.
    if (Canceled() || ec.category() != net::error::get_ssl_category()) {
      return Fail(ec, "TLS handshake failed");
    }
    const long verify = SSL_get_verify_result(conn_->secure->native_handle());
    if (verify == X509_V_OK) return FinishTls("TLS handshake failed: " + ec.message());
    std::string why =
        std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (IsUntrustedIssuer(verify)) {
      why += options().ca_file.empty()
                 ? " (trusted: the system's CA certificates; a private CA needs --ca-file)"
                 : " (trusted: the CA certificates in " + options().ca_file + ")";
    }
    FinishTls(why);
  }

  // Ends the request for good over its TLS connection to the host: not retried.
  void FinishTls(const std::string& why) {
    ReleaseConnection(false);
    Finish(Status::FailedPrecondition(Describe() + ": TLS with " + request_.host +
                                      " refused: " + why));
  }

  void Write() {
    conn_->tcp().expires_at(deadline_);
    conn_->WithStream([&](auto& stream) {
      http::async_write(stream, message_,
                        beast::bind_front_handler(&RequestOp::OnWrite, shared_from_this()));
    });
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot send the request");
    parser_.emplace();
    parser_->body_limit(MaxBody());
    // The header first: Boost 1.74's parser does not enforce body_limit against a Content-Length
    // in C++20 (its optional comparison), so the length is checked here before any body is read.
    // Chunked and close-delimited bodies are counted by the parser as they arrive.
    conn_->WithStream([&](auto& stream) {
      http::async_read_header(stream, conn_->buffer, *parser_,
                              beast::bind_front_handler(&RequestOp::OnHeader, shared_from_this()));
    });
  }

  uint64_t MaxBody() const { return std::min(kMaxResponseBytes, request_.max_response_bytes); }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot read the response");
    if (auto length = parser_->content_length(); length && *length > MaxBody()) {
      return Fail(http::error::body_limit, "cannot read the response");
    }
    if (parser_->is_done()) return OnRead({}, 0);
    conn_->WithStream([&](auto& stream) {
      http::async_read(stream, conn_->buffer, *parser_,
                       beast::bind_front_handler(&RequestOp::OnRead, shared_from_this()));
    });
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot read the response");
    http::response<BytesBody> response = parser_->release();
    parser_.reset();
    ++conn_->answered;
    ReleaseConnection(response.keep_alive(), response.keep_alive());
    const std::optional<int64_t> retry_after_ms = RetryAfterMs(response[http::field::retry_after]);
    HttpResponse out;
    out.status = static_cast<int>(response.result_int());
    out.status_text = StatusText(out.status);
    out.body = std::move(response.body());
    if (auto range = response.find(http::field::content_range); range != response.end()) {
      out.content_range.assign(range->value().data(), range->value().size());
    }
    out.attempts = attempts_;
    if (IsRetryableStatus(out.status) && attempts_ <= options().retries) {
      last_error_ = out.status_text;
      return Backoff(retry_after_ms);
    }
    Finish(std::move(out));
  }

  void Fail(beast::error_code ec, std::string_view doing) {
    if (Canceled()) {
      // Aborted by the cancel watch, or failed meanwhile: either way nobody wants a retry. The
      // connection may hold part of an answer, so it is closed.
      parser_.reset();
      ReleaseConnection(false);
      return Finish(Status::Unavailable("canceled"));
    }
    if (ec == http::error::body_limit) {
      // Not a failure that passes: the same request gets the same answer. The connection holds
      // the unread rest of the body, so it is closed, not pooled.
      parser_.reset();
      ReleaseConnection(false);
      return Finish(
          Status::Corrupt(Describe() + ": the response body is larger than the " +
                          std::to_string(std::min(kMaxResponseBytes, request_.max_response_bytes)) +
                          " bytes a stored chunk of this array can take; not read"));
    }
    bool reused = conn_->answered > 0;
    bool answered = parser_ && parser_->got_some();
    parser_.reset();
    ReleaseConnection(false);
    if (reused && !answered && !resent_on_new_connection_ && IsClosedConnectionError(ec)) {
      // The server closed this idle connection (keep-alive timeout, restart): not a failure of
      // the request. Send it again at once on a fresh connection.
      resent_on_new_connection_ = true;
      pool_->DropIdle();
      pool_->Acquire(shared_from_this());
      return;
    }
    last_error_ = std::string(doing) + ": " +
                  (ec == beast::error::timeout
                       ? "timed out after " + std::to_string(options().timeout_ms) + " ms"
                       : ec.message());
    if (attempts_ <= options().retries) return Backoff();
    Finish(Status::Unavailable(Describe() + ": " + last_error_ + " (" + std::to_string(attempts_) +
                               " attempts)"));
  }

  // Ends the attempt's use of its connection (on the connection's strand): the cancel watch
  // stops, and the pool takes the connection back.
  void ReleaseConnection(bool reusable, bool kept_alive = false) {
    ++attempt_serial_;
    if (watch_) watch_->cancel();
    pool_->Release(std::move(conn_), reusable, kept_alive);
  }

  // Polls the token while the attempt holds `conn_`, on the connection's strand (so it never
  // runs beside the attempt's own handlers); a cancel aborts the pending connect, write or
  // read, whose handler then ends the request (Fail). Polled rather than registered with the
  // token, which would keep a callback for each of a session's millions of requests.
  void WatchForCancel() {
    if (!request_.cancel) return;
    watch_.emplace(conn_->tcp().get_executor());
    PollCancel(attempt_serial_.load());
  }

  void PollCancel(uint64_t serial) {
    watch_->expires_after(kCancelPollInterval);
    watch_->async_wait([self = shared_from_this(), serial](beast::error_code ec) {
      // A later serial: the attempt gave its connection back, and this timer is not its own.
      if (ec || self->attempt_serial_.load() != serial) return;
      if (!self->Canceled()) return self->PollCancel(serial);
      self->conn_->tcp().cancel();
      if (self->resolver_) self->resolver_->cancel();
    });
  }

  // Waits the backoff, or what the server asked for (Retry-After) if that is longer, bounded.
  void Backoff(std::optional<int64_t> server_asked_ms = std::nullopt) {
    int64_t delay_ms = BackoffMs(options().retry_base_ms, attempts_);
    if (server_asked_ms) {
      delay_ms = std::max(
          delay_ms, std::min<int64_t>(*server_asked_ms, std::max(options().max_retry_after_ms, 0)));
    }
    retry_at_ = Clock::now() + std::chrono::milliseconds(delay_ms);
    timer_.emplace(pool_->ioc());
    WaitForRetry();
  }

  // Waits in slices, so that a cancel ends a long backoff soon without registering anything
  // with the token.
  void WaitForRetry() {
    if (Canceled()) return Finish(Status::Unavailable("canceled"));
    Clock::time_point now = Clock::now();
    if (now >= retry_at_) return StartAttempt();
    timer_->expires_at(std::min(retry_at_, now + kCancelPollInterval));
    timer_->async_wait([self = shared_from_this()](beast::error_code) { self->WaitForRetry(); });
  }

  void Finish(Result<HttpResponse> result) {
    HttpClient::Callback done = std::move(done_);
    done(std::move(result));
  }

  std::string Describe() const {
    return std::string(message_.method_string()) + " " + HttpClient::Url(request_);
  }

  std::shared_ptr<HttpClient> client_;  // a request in flight keeps the client's threads
  std::shared_ptr<HostPool> pool_;
  HttpRequest request_;  // its body moved into message_
  http::request<BytesBody> message_;
  HttpClient::Callback done_;

  std::unique_ptr<Connection> conn_;  // while an attempt uses one
  std::optional<http::response_parser<BytesBody>> parser_;
  std::optional<tcp::resolver> resolver_;
  std::vector<tcp::endpoint> endpoints_;  // of the connect in progress, after CheckAddress
  std::optional<net::steady_timer> timer_;
  std::optional<net::steady_timer> watch_;  // the cancel watch of the current attempt
  // Moves on each time an attempt gives its connection back. Atomic: a stale watch reads it on
  // the old connection's strand while the next attempt runs on another.
  std::atomic<uint64_t> attempt_serial_{0};
  Clock::time_point deadline_;  // of the current attempt
  Clock::time_point retry_at_;  // of the next attempt, while backing off
  int attempts_ = 0;
  bool resent_on_new_connection_ = false;
  std::string last_error_;
};

void HostPool::Acquire(std::shared_ptr<RequestOp> op) {
  std::unique_ptr<Connection> conn;
  {
    MutexLock lock(mu_);
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else if (open_ < limit_) {
      ++open_;
      conn = std::make_unique<Connection>(ioc_, tls_);
    } else {
      waiting_.push_back(std::move(op));
      return;
    }
  }
  op->Run(std::move(conn));
}

void HostPool::Release(std::unique_ptr<Connection> conn, bool reusable, bool kept_alive) {
  std::unique_ptr<Connection> closing;
  std::shared_ptr<RequestOp> next;
  std::shared_ptr<RequestOp> another;  // a waiting request the grown limit lets in
  std::unique_ptr<Connection> another_conn;
  {
    MutexLock lock(mu_);
    if (kept_alive && limit_ < max_connections_) ++limit_;
    if (!reusable) {
      closing = std::move(conn);
      --open_;
    }
    if (!waiting_.empty()) {
      next = std::move(waiting_.front());
      waiting_.pop_front();
      if (!conn) {
        ++open_;
        conn = std::make_unique<Connection>(ioc_, tls_);
      }
    } else if (conn) {
      idle_.push_back(std::move(conn));
    }
    if (!waiting_.empty() && open_ < limit_) {
      another = std::move(waiting_.front());
      waiting_.pop_front();
      ++open_;
      another_conn = std::make_unique<Connection>(ioc_, tls_);
    }
  }
  if (next) next->Run(std::move(conn));
  if (another) another->Run(std::move(another_conn));
}

void HostPool::DropIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  MutexLock lock(mu_);
  closing.swap(idle_);
  open_ -= static_cast<int>(closing.size());
}

// A client TLS context: TLS 1.2 or later, the peer verified against `ca_file` or, if empty,
// the system's CA store (Debian: /etc/ssl/certs).
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const std::string& ca_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  context->set_verify_mode(ssl::verify_peer, ec);
  if (ca_file.empty()) {
    if (!ec) context->set_default_verify_paths(ec);
    if (ec) return Status::FailedPrecondition("cannot use the system's CA store: " + ec.message());
  } else {
    if (!ec) context->load_verify_file(ca_file, ec);
    if (ec) {
      return Status::InvalidArgument("CA file " + ca_file + " cannot be loaded: " + ec.message());
    }
  }
  return context;
}

}  // namespace

Status CheckCaFile(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("the CA file name is empty");
  return MakeTlsContext(path).status();
}

struct HttpClient::Impl {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;
  // For https pools; null with tls_error set if it could not be made. Constant after the
  // client's constructor. Declared before `pools`, whose connections use it.
  std::unique_ptr<ssl::context> tls;
  Status tls_error;
  Mutex mu;
  // Declared after `ioc`, so destroyed first: idle sockets close while their io_context lives.
  // By "http://host:port" or "https://host:port".
  std::map<std::string, std::shared_ptr<HostPool>> pools GUARDED_BY(mu);

  std::shared_ptr<HostPool> PoolFor(const HttpRequest& request, const HttpClientOptions& options) {
    std::string key = std::string(request.https ? "https://" : "http://") + request.host + ":" +
                      std::to_string(request.port);
    MutexLock lock(mu);
    std::shared_ptr<HostPool>& pool = pools[key];
    if (!pool) {
      pool = std::make_shared<HostPool>(ioc, request.https ? tls.get() : nullptr,
                                        options.initial_connections_per_host,
                                        options.max_connections_per_host);
    }
    return pool;
  }
};

std::shared_ptr<HttpClient> HttpClient::Create(const HttpClientOptions& options) {
  return std::shared_ptr<HttpClient>(new HttpClient(options));
}

HttpClient::HttpClient(const HttpClientOptions& options)
    : options_(options), impl_(std::make_shared<Impl>()) {
  Result<std::unique_ptr<ssl::context>> tls = MakeTlsContext(options.ca_file);
  if (tls.ok()) {
    impl_->tls = std::move(*tls);
  } else {
    impl_->tls_error = tls.status();
  }
  for (int i = 0; i < std::clamp(options.threads, 1, 2); ++i) {
    impl_->threads.emplace_back([impl = impl_] {
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception&) {
          // Only allocation failure can get here; keep serving the other requests.
        }
      }
    });
  }
}

HttpClient::~HttpClient() {
  // Every request and posted task holds the client, so nothing is pending now; stop() only
  // makes idle threads return even while this thread may still be inside a handler.
  impl_->work.reset();
  impl_->ioc.stop();
  for (std::thread& thread : impl_->threads) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // destroyed from a callback: this thread exits once its handler returns
    } else {
      thread.join();
    }
  }
}

void HttpClient::Send(HttpRequest request, Callback done) {
  if (request.https && !impl_->tls) {
    Status refused(StatusCode::kFailedPrecondition,
                   (request.method == HttpRequest::Method::kGet ? "GET " : "PUT ") + Url(request) +
                       ": " + impl_->tls_error.message());
    Post([done = std::move(done), refused] { done(refused); });
    return;
  }
  std::shared_ptr<HostPool> pool = impl_->PoolFor(request, options_);
  auto op = std::make_shared<RequestOp>(shared_from_this(), std::move(pool), std::move(request),
                                        std::move(done));
  op->Begin();
}

void HttpClient::Post(std::function<void()> task) {
  net::post(impl_->ioc, [self = shared_from_this(), task = std::move(task)] { task(); });
}

std::string HttpClient::HostHeader(const HttpRequest& request) {
  bool ipv6 = request.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + request.host + "]" : request.host;
  // The scheme's default port is left out, as clients usually send it (and S3 signs it).
  if (request.port == (request.https ? 443 : 80)) return host;
  return host + ":" + std::to_string(request.port);
}

std::string HttpClient::Url(const HttpRequest& request) {
  bool ipv6 = request.host.find(':') != std::string::npos;
  return (request.https ? "https://" : "http://") +
         (ipv6 ? "[" + request.host + "]" : request.host) + ":" + std::to_string(request.port) +
         request.target;
}

}  // namespace batchd::pipeline
