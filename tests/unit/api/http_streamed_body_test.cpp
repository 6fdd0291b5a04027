// Streamed answers (HttpResponse::stream), in-process over a real loopback socket: the body goes
// out chunked, one piece per chunk, each piece asked for only after the previous one is written,
// and the connection serves the next pipelined request afterwards; a piece that fails cuts the
// body off (no final chunk, the connection closes); HTTP/1.0 gets the body unframed, ended by the
// close.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "api/server.h"

namespace batchd::api {
namespace {

using std::chrono::seconds;

// `pieces` pieces "piece-0\n", ...; then the end, or an error when `fail` is set. Each piece is
// delivered from a thread of its own, as a store callback would be (detached: the last reference
// to the connection may be the one that thread drops).
class CountingStream final : public BodyStream {
 public:
  CountingStream(int pieces, bool fail, std::shared_ptr<std::atomic<int>> overlaps)
      : pieces_(pieces), fail_(fail), overlaps_(std::move(overlaps)) {}

  void Next(Deliver deliver) override {
    if (busy_->exchange(true)) ++*overlaps_;  // asked again before the last piece was delivered
    const int n = next_++;
    std::thread([n, pieces = pieces_, fail = fail_, busy = busy_, deliver = std::move(deliver)] {
      *busy = false;
      if (n < pieces) return deliver("piece-" + std::to_string(n) + "\n");
      if (fail) return deliver(Status::IoError("the page could not be read"));
      deliver(std::string());
    }).detach();
  }

 private:
  const int pieces_;
  const bool fail_;
  std::shared_ptr<std::atomic<int>> overlaps_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
  int next_ = 0;
};

// Everything the server sends until it closes the connection or `until` appears (or a timeout).
std::string ReadRaw(uint16_t port, const std::string& request, const std::string& until = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (;;) {
      if (!until.empty() && out.find(until) != std::string::npos) break;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

class HttpStreamedBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/stream/{n}", [this](HttpRequest& r, Responder respond) {
      HttpResponse response;
      response.content_type = "text/plain";
      response.stream = std::make_shared<CountingStream>(std::stoi(r.path_params.at("n")),
                                                         r.query.count("fail") > 0, overlaps_);
      respond(std::move(response));
    });
    router_.Add("GET", "/plain", [](HttpRequest&, Responder respond) {
      HttpResponse response;
      response.content_type = "text/plain";
      response.body = "plain";
      respond(std::move(response));
    });
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.shutdown_grace = seconds(1);
    Result<std::unique_ptr<Server>> server = Server::Start(options, router_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    EXPECT_EQ(*overlaps_, 0) << "a piece was asked for before the previous one was delivered";
  }

  Router router_;
  std::shared_ptr<std::atomic<int>> overlaps_ = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<Server> server_;
};

TEST_F(HttpStreamedBodyTest, PiecesGoOutAsChunksAndTheConnectionServesTheNextRequest) {
  const std::string raw = ReadRaw(server_->port(),
                                  "GET /stream/3 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n",
                                  "\r\n\r\nplain");
  const size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  const std::string head = raw.substr(0, head_end);
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  // One chunk per piece (8 bytes each), then the last chunk, then the next answer.
  const std::string body = raw.substr(head_end + 4);
  EXPECT_EQ(
      body.rfind("8\r\npiece-0\n\r\n8\r\npiece-1\n\r\n8\r\npiece-2\n\r\n0\r\n\r\nHTTP/1.1 200", 0),
      0u)
      << body;
  EXPECT_NE(body.find("Content-Length: 5\r\n"), std::string::npos) << body;
}

TEST_F(HttpStreamedBodyTest, APieceThatFailsCutsTheBodyOffWithoutAFinalChunk) {
  const std::string raw = ReadRaw(server_->port(),
                                  "GET /stream/2?fail=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  const size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  EXPECT_EQ(raw.substr(head_end + 4), "8\r\npiece-0\n\r\n8\r\npiece-1\n\r\n")
      << "the client must see an incomplete chunked body, and nothing after it";
}

TEST_F(HttpStreamedBodyTest, Http10GetsTheBodyUnframedEndedByTheClose) {
  const std::string raw = ReadRaw(server_->port(), "GET /stream/2 HTTP/1.0\r\n\r\n");
  const size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  EXPECT_EQ(raw.substr(0, head_end).find("chunked"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(head_end + 4), "piece-0\npiece-1\n");
}

}  // namespace
}  // namespace batchd::api
