// The HTTP session's connection rules, in-process over a real loopback socket (api/server.h):
// pipelined requests are answered in request order whatever order their answers come in, no
// more than ServerOptions::pipeline_limit are read ahead of their answers, a request in flight
// keeps its connection however long it takes, and an idle connection is closed.
#include "api/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace batchd::api {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Requests to GET /held/{n} wait until the test answers them; the handler keeps count.
class HeldRequests {
 public:
  void Add(std::string n, Responder respond) {
    std::lock_guard lock(mu_);
    held_.push_back({std::move(n), std::move(respond)});
    ++received_;
    max_outstanding_ = std::max(max_outstanding_, held_.size());
    changed_.notify_all();
  }

  // Waits (bounded) until `count` requests are held; false on timeout.
  bool WaitForHeld(size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, seconds(10), [&] { return held_.size() >= count; });
  }

  // Answers the held request at `index` (0 = oldest) with its number as the body.
  void Answer(size_t index) {
    Held h;
    {
      std::lock_guard lock(mu_);
      h = std::move(held_.at(index));
      held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(index));
    }
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = h.n;
    h.respond(std::move(r));
  }

  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  size_t received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t max_outstanding() {
    std::lock_guard lock(mu_);
    return max_outstanding_;
  }

 private:
  struct Held {
    std::string n;
    Responder respond;
  };
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Held> held_;
  size_t received_ = 0;
  size_t max_outstanding_ = 0;
};

// A blocking loopback client with a receive timeout, reading Content-Length framed answers.
class Connection {
 public:
  explicit Connection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{.tv_sec = 20, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Connection() { ::close(fd_); }

  bool connected() const { return connected_; }

  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // The next answer's body, or "<closed>" / "<timeout>".
  std::string ReadBody() {
    for (;;) {
      const size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t at = buffer_.find("Content-Length: ");
        const size_t length = at < head_end ? std::stoul(buffer_.substr(at + 16)) : 0;
        if (buffer_.size() >= head_end + 4 + length) {
          std::string body = buffer_.substr(head_end + 4, length);
          buffer_.erase(0, head_end + 4 + length);
          return body;
        }
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) return "<closed>";
      if (n < 0) return errno == EAGAIN ? "<timeout>" : "<closed>";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

class HttpPipeliningTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    router_.Add("GET", "/held/{n}", [this](HttpRequest& r, Responder respond) {
      held_.Add(r.path_params.at("n"), std::move(respond));
    });
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.shutdown_grace = seconds(1);
    Result<std::unique_ptr<Server>> server = Server::Start(options, router_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  void TearDown() override {
    // Anything still held is answered, so the server can stop without waiting out its grace.
    while (held_.held() > 0) held_.Answer(0);
    if (server_) server_->Stop();
  }

  Router router_;
  HeldRequests held_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpPipeliningTest, ReadsNoMoreThanTheLimitAheadAndAnswersInOrder) {
  ServerOptions options;
  options.pipeline_limit = 2;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  Connection c(server_->port());
  ASSERT_TRUE(c.connected());
  constexpr int kRequests = 6;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) burst += Get("/held/" + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(c.Send(burst));

  // Two at a time reach the handler; the newer of the two is answered first each time, yet
  // the answers go out in request order.
  int answered = 0;
  while (answered < kRequests) {
    const size_t window = std::min(2, kRequests - answered);
    ASSERT_TRUE(held_.WaitForHeld(window)) << "after " << answered << " answers";
    held_.Answer(window - 1);
    if (window == 2) held_.Answer(0);
    answered += static_cast<int>(window);
    for (size_t k = 0; k < window; ++k) {
      EXPECT_EQ(c.ReadBody(), std::to_string(answered - static_cast<int>(window) + k));
    }
  }
  EXPECT_EQ(held_.received(), static_cast<size_t>(kRequests));
  EXPECT_EQ(held_.max_outstanding(), 2u) << "never more than the limit read ahead";
}

TEST_F(HttpPipeliningTest, ARequestInFlightLongerThanTheIdleTimeoutIsStillAnswered) {
  ServerOptions options;
  options.idle_timeout = milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Start(options));
  Connection c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_NO_FATAL_FAILURE(c.Send(Get("/held/slow")));
  ASSERT_TRUE(held_.WaitForHeld(1));
  // Several idle timeouts pass while the request is in flight: the wait is the condition under
  // test, not something measured.
  std::this_thread::sleep_for(milliseconds(500));
  held_.Answer(0);
  EXPECT_EQ(c.ReadBody(), "slow");
  // Once nothing is owed, the idle clock runs.
  EXPECT_EQ(c.ReadBody(), "<closed>");
}

TEST_F(HttpPipeliningTest, AnIdleConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Start(options));
  Connection c(server_->port());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.ReadBody(), "<closed>");
}

}  // namespace
}  // namespace batchd::api
