// Browsers and CORS against the real daemon (docs/api.md, "Browsers and CORS"): no foreign
// origin is allowed by default, a page from an origin that is not allowed is refused (403) before
// anything happens, REST or WebSocket, and a --cors-origin origin gets its preflight answered and
// the CORS headers on its answers. The same rules one at a time are in unit/api/.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/sample_batches.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

const std::string kAllowed = "https://ui.example.com";
const std::string kForeign = "http://evil.example";

class CorsTest : public DaemonTest {
 protected:
  void ExpectForeignOriginRefused(const std::string& origin) {
    ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
    ASSERT_OK_AND_ASSIGN(
        HttpResponse post,
        CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken,
                      SimpleBatch("from a foreign page", 2).dump(), {{"Origin", origin}}));
    EXPECT_TRUE(IsApiError(post, 403, "origin_not_allowed", "")) << origin;
    EXPECT_EQ(post.headers.count("access-control-allow-origin"), 0u) << post.Describe();

    Result<std::unique_ptr<WebSocketClient>> ws = WebSocketClient::Connect(
        daemon().port(), "/api/v1/events",
        {.headers = {{"Origin", origin}, {"Authorization", "Bearer " + kReadToken}}});
    ASSERT_FALSE(ws.ok()) << origin;
    EXPECT_NE(ws.status().message().find("HTTP 403"), std::string::npos) << ws.status().message();

    ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
    EXPECT_EQ(after, before) << "before: " << before.ToString() << "\nafter:  " << after.ToString();
  }
};

TEST_F(CorsTest, NoForeignOriginIsAllowedByDefault) {
  const std::filesystem::path tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--token-file", tokens.string()}));
  ASSERT_NO_FATAL_FAILURE(ExpectForeignOriginRefused(kAllowed));
  ASSERT_NO_FATAL_FAILURE(ExpectForeignOriginRefused(kForeign));

  // The daemon's own page (its dashboard) is not foreign.
  const std::string own = "http://127.0.0.1:" + std::to_string(daemon().port());
  ASSERT_OK_AND_ASSIGN(HttpResponse same, CallWithToken(client(), "GET", "/api/v1/batches",
                                                        kReadToken, {}, {{"Origin", own}}));
  EXPECT_EQ(same.status, 200) << same.Describe();
}

TEST_F(CorsTest, AnAllowedOriginGetsItsPreflightAndCorsHeaders) {
  const std::filesystem::path tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon({"--token-file", tokens.string(), "--cors-origin", kAllowed}));

  // The preflight carries no token, and needs none.
  ASSERT_OK_AND_ASSIGN(HttpResponse preflight,
                       client().Request("OPTIONS", "/api/v1/batches", "",
                                        {{"Origin", kAllowed},
                                         {"Access-Control-Request-Method", "POST"},
                                         {"Access-Control-Request-Headers", "authorization"}}));
  EXPECT_EQ(preflight.status, 204) << preflight.Describe();
  EXPECT_EQ(preflight.headers["access-control-allow-origin"], kAllowed);
  EXPECT_NE(preflight.headers["access-control-allow-headers"].find("Authorization"),
            std::string::npos);

  // The real request still needs its token; every answer, errors too, carries the headers.
  ASSERT_OK_AND_ASSIGN(HttpResponse anonymous,
                       client().Request("GET", "/api/v1/batches", "", {{"Origin", kAllowed}}));
  EXPECT_TRUE(IsApiError(anonymous, 401, "unauthorized", ""));
  EXPECT_EQ(anonymous.headers["access-control-allow-origin"], kAllowed);
  ASSERT_OK_AND_ASSIGN(
      HttpResponse created,
      CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken,
                    SimpleBatch("from the allowed page", 2).dump(), {{"Origin", kAllowed}}));
  EXPECT_EQ(created.status, 201) << created.Describe();
  EXPECT_EQ(created.headers["access-control-allow-origin"], kAllowed);
  EXPECT_EQ(created.headers["vary"], "Origin");

  // Any other origin is still refused.
  ASSERT_NO_FATAL_FAILURE(ExpectForeignOriginRefused(kForeign));
}

}  // namespace
}  // namespace batchd::testing
