// A tiny HTTP/1.1 server on 127.0.0.1 whose every answer the test decides: fail N times then
// succeed, hold requests until several are in flight at once, answer slowly, close the
// connection. It counts connections and requests so tests can check a client's pooling.
//
// One thread per connection (tests open at most a few hundred); keep-alive unless the reply
// asks to close. Not a general server: no chunked bodies, no pipelining beyond one request at
// a time per connection. The destructor closes the listener and every connection and joins
// all threads; handlers that wait must wait with a timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace batchd::testing {

class ScriptedHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string body;
    std::string headers;  // the header lines after the request line, each ending "\r\n"
  };
  struct Reply {
    int status = 200;
    std::string body;
    bool close_connection = false;
    std::string reason;         // the status line's reason phrase; empty: the usual one
    std::string extra_headers;  // header lines, each ending "\r\n": "Retry-After: 1\r\n"
    bool reset = false;         // no answer: the connection is reset (RST) instead
    // Instead of `body`: a header announcing this many bytes, then one byte every
    // trickle_interval until all are sent, the client goes away or the server stops (a server
    // too slow ever to finish a large answer). The connection is closed after it.
    size_t trickle_bytes = 0;
    std::chrono::milliseconds trickle_interval{50};
  };
  // Runs on connection threads, possibly concurrently.
  using Handler = std::function<Reply(const Request&)>;

  static Result<std::unique_ptr<ScriptedHttpServer>> Start(Handler handler);
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>" + path.
  std::string Url(std::string_view path) const;

  int connections_accepted() const { return connections_accepted_.load(); }
  int requests_received() const { return requests_received_.load(); }
  // Trickled answers begun, and those that ended because the client closed the connection.
  int trickles_started() const { return trickles_started_.load(); }
  int trickles_abandoned() const { return trickles_abandoned_.load(); }

 private:
  explicit ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {}
  void AcceptLoop();
  void Serve(int fd);
  void Trickle(int fd, const Reply& reply);

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_accepted_{0};
  std::atomic<int> requests_received_{0};
  std::atomic<int> trickles_started_{0};
  std::atomic<int> trickles_abandoned_{0};
  std::thread acceptor_;
  Mutex mu_;
  std::set<int> open_fds_ GUARDED_BY(mu_);  // to shut down on destruction
  std::vector<std::thread> connections_ GUARDED_BY(mu_);
};

}  // namespace batchd::testing
