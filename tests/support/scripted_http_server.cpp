#include "tests/support/scripted_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace batchd::testing {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxOpenConnections = 1024;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Case-insensitive search for "content-length:" in the header block; 0 when absent.
size_t ContentLength(std::string_view headers) {
  static constexpr std::string_view kName = "content-length:";
  for (size_t i = 0; i + kName.size() <= headers.size(); ++i) {
    bool match = true;
    for (size_t j = 0; j < kName.size() && match; ++j) {
      match = std::tolower(static_cast<unsigned char>(headers[i + j])) == kName[j];
    }
    if (!match) continue;
    size_t p = i + kName.size();
    while (p < headers.size() && headers[p] == ' ') ++p;
    size_t value = 0;
    std::from_chars(headers.data() + p, headers.data() + headers.size(), value);
    return value;
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<ScriptedHttpServer>> ScriptedHttpServer::Start(Handler handler) {
  std::unique_ptr<ScriptedHttpServer> server(new ScriptedHttpServer(std::move(handler)));
  server->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) return Status::IoError(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(server->listen_fd_, 1024) != 0 ||
      ::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::IoError(std::string("cannot listen on 127.0.0.1: ") + strerror(errno));
  }
  server->port_ = ntohs(addr.sin_port);
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

std::string ScriptedHttpServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void ScriptedHttpServer::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    MutexLock lock(mu_);
    if (open_fds_.size() >= kMaxOpenConnections) {
      ::close(fd);
      continue;
    }
    ++connections_accepted_;
    open_fds_.insert(fd);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void ScriptedHttpServer::Serve(int fd) {
  std::string in;
  char chunk[16 * 1024];
  for (bool open = true; open && !stopping_;) {
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > kMaxHeaderBytes) open = false;
      ssize_t n = open ? ::recv(fd, chunk, sizeof chunk, 0) : 0;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        break;
      }
      in.append(chunk, static_cast<size_t>(n));
    }
    if (!open) break;
    std::string_view head(in.data(), header_end);
    size_t body_length = ContentLength(head);
    while (in.size() < header_end + 4 + body_length) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        break;
      }
      in.append(chunk, static_cast<size_t>(n));
    }
    if (!open) break;
    Request request;
    size_t sp1 = head.find(' ');
    size_t sp2 = head.find(' ', sp1 + 1);
    request.method = std::string(head.substr(0, sp1));
    request.target = std::string(head.substr(sp1 + 1, sp2 - sp1 - 1));
    request.body = in.substr(header_end + 4, body_length);
    if (size_t eol = head.find("\r\n"); eol != std::string_view::npos) {
      request.headers = std::string(head.substr(eol + 2)) + "\r\n";
    }
    in.erase(0, header_end + 4 + body_length);
    ++requests_received_;

    Reply reply = handler_(request);
    if (reply.reset) {
      linger abort{.l_onoff = 1, .l_linger = 0};  // close() then sends RST, not FIN
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
      break;
    }
    if (reply.trickle_bytes > 0) {
      Trickle(fd, reply);
      break;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                      (reply.reason.empty() ? std::string(Reason(reply.status)) : reply.reason) +
                      "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n" +
                      (reply.close_connection ? "Connection: close\r\n" : "") +
                      reply.extra_headers + "\r\n" + reply.body;
    if (!SendAll(fd, out) || reply.close_connection) open = false;
  }
  MutexLock lock(mu_);
  open_fds_.erase(fd);
  ::close(fd);
}

void ScriptedHttpServer::Trickle(int fd, const Reply& reply) {
  ++trickles_started_;
  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + Reason(reply.status) +
                     "\r\nContent-Length: " + std::to_string(reply.trickle_bytes) + "\r\n\r\n";
  if (!SendAll(fd, head)) return;
  for (size_t sent = 0; sent < reply.trickle_bytes && !stopping_; ++sent) {
    std::this_thread::sleep_for(reply.trickle_interval);
    if (!SendAll(fd, "x")) {
      ++trickles_abandoned_;  // the client closed its end
      return;
    }
  }
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    MutexLock lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes recv()
    threads.swap(connections_);
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace batchd::testing
