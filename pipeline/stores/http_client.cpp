// Beast lives here and nowhere else in pipeline/: the connection pools and the request state
// machine (connect -> write -> read -> release or retry).
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

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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

#include "core/mutex.h"

namespace batchd::pipeline {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
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

// How a server's close of an idle keep-alive connection shows up on the next request.
bool IsClosedConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
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

struct Connection {
  explicit Connection(net::io_context& ioc) : stream(net::make_strand(ioc.get_executor())) {
    // Beast reads at most the buffer's free capacity per read (512 bytes for a fresh buffer),
    // so without this a 1 MiB body took thousands of small reads.
    buffer.reserve(kReadBufferBytes);
  }
  Stream stream;  // on its own strand: its timer and I/O handlers never overlap
  beast::flat_buffer buffer;
  int answered = 0;  // responses read on this connection: > 0 means it is a reused one
};

class RequestOp;

// The keep-alive connections to one host:port, and the requests waiting for one. A connection
// is owned by exactly one place at a time: the idle list, or the request using it.
class HostPool {
 public:
  HostPool(net::io_context& ioc, int max_connections)
      : ioc_(ioc), max_connections_(std::max(max_connections, 1)) {}

  net::io_context& ioc() { return ioc_; }

  // Hands `op` an idle connection, a new one (under the limit), or queues it for the next free.
  void Acquire(std::shared_ptr<RequestOp> op);

  // Takes back a connection: kept for reuse if `reusable`, closed otherwise; a waiting request
  // gets it (or, if it was closed, a new one).
  void Release(std::unique_ptr<Connection> conn, bool reusable);

  // Closes every idle connection: after one turned out closed by the server, the others (as
  // old, to the same server) likely are too.
  void DropIdle();

 private:
  net::io_context& ioc_;
  const int max_connections_;
  Mutex mu_;
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
    bool ipv6 = request_.host.find(':') != std::string::npos;
    message_.set(http::field::host, (ipv6 ? "[" + request_.host + "]" : request_.host) + ":" +
                                        std::to_string(request_.port));
    message_.set(http::field::user_agent, "batchd");
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
    net::post(conn_->stream.get_executor(),
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
      ReleaseConnection(conn_->stream.socket().is_open());
      return Finish(Status::Unavailable("canceled"));
    }
    WatchForCancel();
    if (conn_->stream.socket().is_open()) return Write();
    conn_->stream.expires_at(deadline_);
    beast::error_code ec;
    net::ip::address address = net::ip::make_address(request_.host, ec);
    if (!ec) {
      if (Status allowed = CheckAddress(address); !allowed.ok()) return Refuse(allowed);
      conn_->stream.async_connect(
          tcp::endpoint(address, request_.port),
          beast::bind_front_handler(&RequestOp::OnConnect, shared_from_this()));
      return;
    }
    resolver_.emplace(conn_->stream.get_executor());
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
    conn_->stream.expires_at(deadline_);
    conn_->stream.async_connect(
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
    Write();
  }

  void Write() {
    conn_->stream.expires_at(deadline_);
    http::async_write(conn_->stream, message_,
                      beast::bind_front_handler(&RequestOp::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot send the request");
    parser_.emplace();
    parser_->body_limit(MaxBody());
    // The header first: Boost 1.74's parser does not enforce body_limit against a Content-Length
    // in C++20 (its optional comparison), so the length is checked here before any body is read.
    // Chunked and close-delimited bodies are counted by the parser as they arrive.
    http::async_read_header(conn_->stream, conn_->buffer, *parser_,
                            beast::bind_front_handler(&RequestOp::OnHeader, shared_from_this()));
  }

  uint64_t MaxBody() const { return std::min(kMaxResponseBytes, request_.max_response_bytes); }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot read the response");
    if (auto length = parser_->content_length(); length && *length > MaxBody()) {
      return Fail(http::error::body_limit, "cannot read the response");
    }
    if (parser_->is_done()) return OnRead({}, 0);
    http::async_read(conn_->stream, conn_->buffer, *parser_,
                     beast::bind_front_handler(&RequestOp::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return Fail(ec, "cannot read the response");
    http::response<BytesBody> response = parser_->release();
    parser_.reset();
    ++conn_->answered;
    ReleaseConnection(response.keep_alive());
    HttpResponse out;
    out.status = static_cast<int>(response.result_int());
    out.status_text = StatusText(out.status);
    out.body = std::move(response.body());
    out.attempts = attempts_;
    if (IsRetryableStatus(out.status) && attempts_ <= options().retries) {
      last_error_ = out.status_text;
      return Backoff();
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
  void ReleaseConnection(bool reusable) {
    ++attempt_serial_;
    if (watch_) watch_->cancel();
    pool_->Release(std::move(conn_), reusable);
  }

  // Polls the token while the attempt holds `conn_`, on the connection's strand (so it never
  // runs beside the attempt's own handlers); a cancel aborts the pending connect, write or
  // read, whose handler then ends the request (Fail). Polled rather than registered with the
  // token, which would keep a callback for each of a session's millions of requests.
  void WatchForCancel() {
    if (!request_.cancel) return;
    watch_.emplace(conn_->stream.get_executor());
    PollCancel(attempt_serial_.load());
  }

  void PollCancel(uint64_t serial) {
    watch_->expires_after(kCancelPollInterval);
    watch_->async_wait([self = shared_from_this(), serial](beast::error_code ec) {
      // A later serial: the attempt gave its connection back, and this timer is not its own.
      if (ec || self->attempt_serial_.load() != serial) return;
      if (!self->Canceled()) return self->PollCancel(serial);
      self->conn_->stream.cancel();
      if (self->resolver_) self->resolver_->cancel();
    });
  }

  void Backoff() {
    retry_at_ =
        Clock::now() + std::chrono::milliseconds(BackoffMs(options().retry_base_ms, attempts_));
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
    } else if (open_ < max_connections_) {
      ++open_;
      conn = std::make_unique<Connection>(ioc_);
    } else {
      waiting_.push_back(std::move(op));
      return;
    }
  }
  op->Run(std::move(conn));
}

void HostPool::Release(std::unique_ptr<Connection> conn, bool reusable) {
  std::unique_ptr<Connection> closing;
  std::shared_ptr<RequestOp> next;
  {
    MutexLock lock(mu_);
    if (!reusable) {
      closing = std::move(conn);
      --open_;
    }
    if (!waiting_.empty()) {
      next = std::move(waiting_.front());
      waiting_.pop_front();
      if (!conn) {
        ++open_;
        conn = std::make_unique<Connection>(ioc_);
      }
    } else if (conn) {
      idle_.push_back(std::move(conn));
    }
  }
  if (next) next->Run(std::move(conn));
}

void HostPool::DropIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  MutexLock lock(mu_);
  closing.swap(idle_);
  open_ -= static_cast<int>(closing.size());
}

}  // namespace

struct HttpClient::Impl {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;
  Mutex mu;
  // Declared after `ioc`, so destroyed first: idle sockets close while their io_context lives.
  std::map<std::string, std::shared_ptr<HostPool>> pools GUARDED_BY(mu);  // by "host:port"

  std::shared_ptr<HostPool> PoolFor(const std::string& host, uint16_t port, int max_connections) {
    std::string key = host + ":" + std::to_string(port);
    MutexLock lock(mu);
    std::shared_ptr<HostPool>& pool = pools[key];
    if (!pool) pool = std::make_shared<HostPool>(ioc, max_connections);
    return pool;
  }
};

std::shared_ptr<HttpClient> HttpClient::Create(const HttpClientOptions& options) {
  return std::shared_ptr<HttpClient>(new HttpClient(options));
}

HttpClient::HttpClient(const HttpClientOptions& options)
    : options_(options), impl_(std::make_shared<Impl>()) {
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
  std::shared_ptr<HostPool> pool =
      impl_->PoolFor(request.host, request.port, options_.max_connections_per_host);
  auto op = std::make_shared<RequestOp>(shared_from_this(), std::move(pool), std::move(request),
                                        std::move(done));
  op->Begin();
}

void HttpClient::Post(std::function<void()> task) {
  net::post(impl_->ioc, [self = shared_from_this(), task = std::move(task)] { task(); });
}

std::string HttpClient::Url(const HttpRequest& request) {
  bool ipv6 = request.host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + request.host + "]" : request.host) + ":" +
         std::to_string(request.port) + request.target;
}

}  // namespace batchd::pipeline
