// Graceful stop: SIGTERM and SIGINT make the daemon exit 0 and stop listening, even with a
// client connection open.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
constexpr auto kConnectTimeout = std::chrono::seconds(5);

class ShutdownTest : public DaemonTest, public ::testing::WithParamInterface<int /* signal */> {
 protected:
  void ExpectPortRefused(uint16_t port) {
    Result<LoopbackSocket> socket = LoopbackSocket::Connect(port, kConnectTimeout);
    EXPECT_FALSE(socket.ok()) << "port " << port << " still accepts connections";
    if (!socket.ok()) {
      EXPECT_EQ(socket.status().code(), StatusCode::kUnavailable) << socket.status().ToString();
    }
  }
};

TEST_P(ShutdownTest, ExitsZeroAndStopsListening) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const uint16_t port = daemon().port();
  ASSERT_OK_AND_ASSIGN(json created,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("before-stop", 3), 201));

  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly(GetParam()));
  ExpectPortRefused(port);
}

TEST_P(ShutdownTest, IdleClientConnectionDoesNotBlockTheStop) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const uint16_t port = daemon().port();
  // Connected but silent (a browser's keep-alive): the daemon must not wait for it to speak.
  ASSERT_OK_AND_ASSIGN(LoopbackSocket idle, LoopbackSocket::Connect(port, kConnectTimeout));
  // And one that sent half a request.
  ASSERT_OK_AND_ASSIGN(LoopbackSocket half, LoopbackSocket::Connect(port, kConnectTimeout));
  ASSERT_OK(half.SendAll("GET /api/v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  // Proves the daemon has accepted and is serving while those two are open.
  ASSERT_OK_AND_ASSIGN(json health, GetJson(client(), "/healthz"));

  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly(GetParam()));
  ExpectPortRefused(port);
}

INSTANTIATE_TEST_SUITE_P(Signals, ShutdownTest, ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) {
                           return std::string(info.param == SIGTERM ? "Sigterm" : "Sigint");
                         });

}  // namespace
}  // namespace batchd::testing
