// Issue 10, item 4: DNS rebinding. The Origin check compared Origin with Host, so a page at
// http://attacker.example:PORT, its name re-pointed at 127.0.0.1, was "same-origin" and got 201
// on POST /api/v1/batches from a daemon without tokens. Raw sockets send exactly the browser's
// headers here: REST and the WebSocket upgrade are refused (403 host_not_allowed), nothing is
// stored, and --allowed-host lets a chosen name through.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/raw_http_connection.h"
#include "tests/support/status_assertions.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

const std::string kBatch = R"({"name": "rebound", "template": {"op": "noop"}})";

std::string Post(const std::string& host, const std::string& origin) {
  return "POST /api/v1/batches HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(kBatch.size()) +
         "\r\n\r\n" + kBatch;
}

std::string Upgrade(const std::string& host, const std::string& origin) {
  return "GET /api/v1/events HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

class DnsRebindingTest : public DaemonTest {
 protected:
  HttpResponse Exchange(const std::string& request) {
    Result<HttpResponse> r = ExchangeOnce(daemon().port(), request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }
  size_t Batches() {
    Result<json> list = GetJson(client(), "/api/v1/batches");
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? (*list)["items"].size() : 0;
  }
};

TEST_F(DnsRebindingTest, ARebindingPageIsRefusedOnRestAndWebSocketAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string port = std::to_string(daemon().port());
  const std::string host = "attacker.example:" + port;
  const std::string origin = "http://attacker.example:" + port;
  EXPECT_TRUE(IsApiError(Exchange(Post(host, origin)), 403, "host_not_allowed", ""));
  EXPECT_TRUE(IsApiError(Exchange(Post(host, "")), 403, "host_not_allowed", ""));
  EXPECT_TRUE(IsApiError(Exchange(Upgrade(host, origin)), 403, "host_not_allowed", ""));
  EXPECT_EQ(Batches(), 0u);
  // The daemon's own names still work, with their own origin.
  for (const std::string& own : {"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}) {
    SCOPED_TRACE(own);
    EXPECT_EQ(Exchange(Post(own, "http://" + own)).status, 201);
  }
  EXPECT_EQ(Batches(), 3u);
  ASSERT_OK_AND_ASSIGN(auto ws, WebSocketClient::Connect(daemon().port(), "/api/v1/events"));
  ASSERT_OK_AND_ASSIGN(json hello, ws->ReadJson());
  EXPECT_EQ(hello["type"], "hello");
}

TEST_F(DnsRebindingTest, AllowedHostLetsANameThrough) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--allowed-host", "batchd.internal"}));
  const std::string port = std::to_string(daemon().port());
  const std::string host = "batchd.internal:" + port;
  EXPECT_EQ(Exchange(Post(host, "http://" + host)).status, 201);
  EXPECT_TRUE(
      IsApiError(Exchange(Post("attacker.example:" + port, "http://attacker.example:" + port)), 403,
                 "host_not_allowed", ""));
  EXPECT_EQ(Batches(), 1u);
}

}  // namespace
}  // namespace batchd::testing
