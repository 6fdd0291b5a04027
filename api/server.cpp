#include "api/server.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "api/http_session.h"

namespace batchd::api {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// After a failed accept (out of descriptors, usually), wait this long before the next: the
// pending connection stays in the backlog, and accepting again at once would spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// Accepts connections, each onto its own strand, and hands them to an HttpSession: a normal
// one under max_connections, one that answers 503 over it, none past that too.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, std::shared_ptr<ServerState> state)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()),
        state_(std::move(state)) {}

  Status Open(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    const std::string where =
        endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Status::IoError("cannot listen on " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void Run() { DoAccept(); }

  void Stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_), boost::beast::bind_front_handler(
                                                       &Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept: {}; retrying in {} ms", ec.message(), kAcceptRetryDelay.count());
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e && self->acceptor_.is_open()) self->DoAccept();
      });
      return;
    }
    // Sessions count themselves in and out; only this strand creates them, so the check and
    // the count cannot race past the limit.
    if (state_->connections < state_->options.max_connections) {
      std::make_shared<HttpSession>(std::move(socket), state_, /*over_limit=*/false)->Run();
    } else if (state_->refusing < kMaxRefusingConnections) {
      std::make_shared<HttpSession>(std::move(socket), state_, /*over_limit=*/true)->Run();
    } else {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
    DoAccept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::shared_ptr<ServerState> state_;
  uint16_t port_ = 0;
};

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, const Router& router)
      : ioc(options.threads), state(std::make_shared<ServerState>(router, options)) {}

  net::io_context ioc;
  std::shared_ptr<ServerState> state;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool stopped = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, const Router& router) {
  auto impl = std::make_unique<Impl>(options, router);
  boost::system::error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + options.host, "--listen");
  impl->listener = std::make_shared<Listener>(impl->ioc, impl->state);
  RETURN_IF_ERROR(impl->listener->Open(tcp::endpoint(address, options.port)));
  impl->listener->Run();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->listener->port(); }

void Server::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  ServerState& state = *impl_->state;
  state.stopping = true;
  impl_->listener->Stop();
  // Event streams are told to close (1001, with the seq to resume from) and get a moment to
  // send it; requests in flight are answered meanwhile.
  if (EventHub* hub = state.options.events.hub) hub->Shutdown();
  using Clock = std::chrono::steady_clock;
  auto wait_until = [](Clock::time_point until, auto done) {
    while (!done() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  // The grace is for the work requests are waiting on; once every answer is produced, the
  // ones still being written get a short allowance more: a client that does not read its
  // answer (or reads it slowly) must not hold the stop for the whole grace.
  const auto deadline = Clock::now() + state.options.shutdown_grace;
  wait_until(deadline, [&] { return state.requests_unanswered <= 0; });
  wait_until(std::min(deadline, Clock::now() + state.options.stop_write_allowance),
             [&] { return state.requests_in_flight <= 0; });
  wait_until(Clock::now() + std::chrono::seconds(2), [&] { return state.websockets_open <= 0; });
  if (state.requests_unanswered > 0) {
    spdlog::warn("stopping with {} request(s) unanswered after {} s",
                 state.requests_unanswered.load(), state.options.shutdown_grace.count());
  }
  // Whatever is still open is closed now, on its own strand, while the threads still run:
  // writes in progress end, idle keep-alive connections and stuck event streams go, and the
  // sessions let go of their answers before the rest of the daemon stops.
  const int writing = state.requests_in_flight.load();
  if (const size_t open = state.open.CloseAll(); open > 0) {
    spdlog::info("stop: closing {} connection(s), {} of them still writing an answer", open,
                 std::max(0, writing));
    wait_until(Clock::now() + std::chrono::seconds(1),
               [&] { return state.connections == 0 && state.refusing == 0; });
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace batchd::api
