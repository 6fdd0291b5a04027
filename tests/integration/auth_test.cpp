// Authentication against the real daemon (docs/api.md, "Authentication"): with a token file,
// every API request and event stream needs a valid bearer token (401 otherwise, before any
// work), a read token cannot change anything (403), the health check and the dashboard's files
// stay open; SIGHUP reloads the file, and a bad reload keeps the tokens in use. No refused
// request changes the database, and no token ever reaches the log.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/sample_batches.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

struct Call {
  std::string method;
  std::string target;
  std::string body;
};

std::string Describe(const Call& c) { return c.method + " " + c.target; }

class AuthTest : public DaemonTest {
 protected:
  // A daemon with StandardTokenFile() and `extra_args`; the queue paused (so batches stay put)
  // and one batch submitted, `batch_id_`.
  void StartWithTokens(std::vector<std::string> extra_args = {}) {
    token_file_ = WriteTokenFile(data_dir(), StandardTokenFile());
    extra_args.insert(extra_args.begin(), {"--token-file", token_file_.string()});
    ASSERT_NO_FATAL_FAILURE(StartDaemon(extra_args));
    ASSERT_OK_AND_ASSIGN(HttpResponse paused,
                         CallWithToken(client(), "POST", "/api/v1/queue/pause", kAdminToken));
    ASSERT_EQ(paused.status, 200) << paused.Describe();
    ASSERT_OK_AND_ASSIGN(HttpResponse created,
                         CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken,
                                       SimpleBatch("seed", 3).dump()));
    ASSERT_EQ(created.status, 201) << created.Describe();
    batch_id_ = created.Json()["id"];
  }

  // Every kind of request the API takes, none of them open.
  std::vector<Call> ProtectedCalls() const {
    const std::string b = "/api/v1/batches/" + batch_id_;
    return {{"GET", "/api/v1/batches", ""},
            {"GET", b, ""},
            {"GET", b + "/sessions", ""},
            {"GET", "/api/v1/sessions/1", ""},
            {"GET", "/api/v1/queue", ""},
            {"GET", "/api/v1/events?since=0", ""},
            {"GET", "/api/v1/openapi.json", ""},
            {"GET", "/metrics", ""},
            {"GET", "/no/such/route", ""},
            {"POST", "/api/v1/batches", SimpleBatch("refused", 2).dump()},
            {"POST", b + "/cancel", ""},
            {"POST", b + "/pause", ""},
            {"POST", b + "/retry", ""},
            {"POST", "/api/v1/sessions/1/cancel", ""},
            {"POST", "/api/v1/queue/resume", ""},
            {"DELETE", b, ""},
            {"POST", "/healthz", ""}};
  }

  std::filesystem::path token_file_;
  std::string batch_id_;
};

TEST_F(AuthTest, WithoutAValidTokenEveryApiRequestIs401AndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  const std::vector<std::pair<std::string, HttpHeaders>> credentials = {
      {"no token", {}},
      {"an unknown token", Bearer("not-a-real-token-at-all-0000")},
      {"a token differing in its last character",
       Bearer(kAdminToken.substr(0, kAdminToken.size() - 1) + "X")},
      {"another scheme", {{"Authorization", "Basic YWRtaW46c2VjcmV0"}}},
      {"an empty bearer token", {{"Authorization", "Bearer "}}},
  };
  for (const auto& [what, headers] : credentials) {
    for (const Call& call : ProtectedCalls()) {
      HttpHeaders h = headers;
      if (!call.body.empty()) h.emplace_back("Content-Type", "application/json");
      ASSERT_OK_AND_ASSIGN(HttpResponse r,
                           client().Request(call.method, call.target, call.body, h));
      EXPECT_TRUE(IsApiError(r, 401, "unauthorized", "")) << what << ": " << Describe(call);
      EXPECT_TRUE(r.headers["www-authenticate"].starts_with("Bearer realm=\"batchd\""))
          << what << ": " << Describe(call) << " challenge: " << r.headers["www-authenticate"];
    }
  }

  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before);
  ASSERT_OK_AND_ASSIGN(HttpResponse batch,
                       CallWithToken(client(), "GET", "/api/v1/batches/" + batch_id_, kReadToken));
  EXPECT_EQ(batch.Json()["state"], "queued") << batch.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse queue,
                       CallWithToken(client(), "GET", "/api/v1/queue", kReadToken));
  EXPECT_EQ(queue.Json()["paused"], true) << "the queue/resume without a token did nothing";
}

TEST_F(AuthTest, AReadTokenReadsButEveryChangeIs403AndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  for (const Call& call : ProtectedCalls()) {
    ASSERT_OK_AND_ASSIGN(HttpResponse r,
                         CallWithToken(client(), call.method, call.target, kReadToken, call.body));
    if (call.method == "GET") {
      EXPECT_NE(r.status, 401) << Describe(call) << ": " << r.Describe();
      EXPECT_NE(r.status, 403) << Describe(call) << ": " << r.Describe();
    } else {
      EXPECT_TRUE(IsApiError(r, 403, "forbidden", "")) << Describe(call);
      EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("admin token"),
                std::string::npos)
          << r.Describe();
      EXPECT_NE(r.headers["www-authenticate"].find("insufficient_scope"), std::string::npos);
    }
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse list,
                       CallWithToken(client(), "GET", "/api/v1/batches", kReadToken));
  ASSERT_EQ(list.status, 200) << list.Describe();
  EXPECT_EQ(list.Json()["items"].size(), 1u);

  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before);
  ASSERT_OK_AND_ASSIGN(HttpResponse batch,
                       CallWithToken(client(), "GET", "/api/v1/batches/" + batch_id_, kReadToken));
  EXPECT_EQ(batch.Json()["state"], "queued")
      << "the cancel and pause with a read token did nothing";
}

TEST_F(AuthTest, AnAdminTokenMayChangeThings) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  const std::string b = "/api/v1/batches/" + batch_id_;
  ASSERT_OK_AND_ASSIGN(HttpResponse created,
                       CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken,
                                     SimpleBatch("second", 2).dump()));
  EXPECT_EQ(created.status, 201) << created.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse canceled,
                       CallWithToken(client(), "POST", b + "/cancel", kAdminToken));
  EXPECT_EQ(canceled.status, 200) << canceled.Describe();
  EXPECT_EQ(canceled.Json()["state"], "canceled");
  ASSERT_OK_AND_ASSIGN(HttpResponse deleted, CallWithToken(client(), "DELETE", b, kAdminToken));
  EXPECT_EQ(deleted.status, 200) << deleted.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse list,
                       CallWithToken(client(), "GET", "/api/v1/batches", kAdminToken));
  ASSERT_EQ(list.status, 200) << list.Describe();
  ASSERT_EQ(list.Json()["items"].size(), 1u);
  EXPECT_EQ(list.Json()["items"][0]["name"], "second");
}

TEST_F(AuthTest, TheHealthCheckAndTheDashboardFilesNeedNoToken) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.status, 200) << health.Describe();
  EXPECT_EQ(health.Json()["status"], "ok");
  ASSERT_OK_AND_ASSIGN(HttpResponse index, client().Get("/"));
  EXPECT_EQ(index.status, 200) << index.Describe();
  EXPECT_NE(index.body.find("token-form"), std::string::npos) << "the page can ask for a token";
  ASSERT_OK_AND_ASSIGN(HttpResponse script, client().Get("/ui/auth.js"));
  EXPECT_EQ(script.status, 200) << script.Describe();
  // Only reading them is open.
  ASSERT_OK_AND_ASSIGN(HttpResponse post, client().Post("/healthz", ""));
  EXPECT_TRUE(IsApiError(post, 401, "unauthorized", ""));
}

TEST_F(AuthTest, AnEventStreamWithoutAValidTokenIs401BeforeTheUpgrade) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  const std::vector<std::pair<std::string, WebSocketClientOptions>> attempts = {
      {"no token", {}},
      {"an unknown header token",
       {.headers = {{"Authorization", "Bearer wrong-token-0123456789"}}}},
      {"an unknown subprotocol token",
       {.headers = {{"Sec-WebSocket-Protocol", "batchd.events, bearer.wrong-token-0123456789"}}}},
      {"a token in the query string only", {}},
  };
  for (const auto& [what, options] : attempts) {
    const std::string target = what == "a token in the query string only"
                                   ? "/api/v1/events?access_token=" + kReadToken
                                   : "/api/v1/events?since=0";
    Result<std::unique_ptr<WebSocketClient>> ws =
        WebSocketClient::Connect(daemon().port(), target, options);
    ASSERT_FALSE(ws.ok()) << what;
    EXPECT_EQ(ws.status().code(), StatusCode::kFailedPrecondition) << ws.status().ToString();
    EXPECT_NE(ws.status().message().find("HTTP 401"), std::string::npos)
        << what << ": " << ws.status().message();
    EXPECT_NE(ws.status().message().find("\"unauthorized\""), std::string::npos);
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.Json()["events"]["subscribers"], 0) << "no stream was opened";
}

TEST_F(AuthTest, AnEventStreamTakesAReadOrAdminTokenAsAHeaderOrASubprotocol) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  ASSERT_OK_AND_ASSIGN(
      auto by_header,
      WebSocketClient::Connect(daemon().port(), "/api/v1/events",
                               {.headers = {{"Authorization", "Bearer " + kReadToken}}}));
  ASSERT_OK_AND_ASSIGN(json h1, ReadHello(*by_header));
  EXPECT_EQ(by_header->selected_protocol(), "") << "none offered, none selected";

  // The dashboard's way: browsers cannot set headers on a WebSocket.
  ASSERT_OK_AND_ASSIGN(
      auto by_protocol,
      WebSocketClient::Connect(
          daemon().port(), "/api/v1/events",
          {.headers = {{"Sec-WebSocket-Protocol", "batchd.events, bearer." + kReadToken}}}));
  ASSERT_OK_AND_ASSIGN(json h2, ReadHello(*by_protocol));
  EXPECT_EQ(by_protocol->selected_protocol(), "batchd.events") << "and never the token";

  ASSERT_OK_AND_ASSIGN(
      auto admin,
      WebSocketClient::Connect(daemon().port(), "/api/v1/events",
                               {.headers = {{"Sec-WebSocket-Protocol", "bearer." + kAdminToken}}}));
  ASSERT_OK_AND_ASSIGN(json h3, ReadHello(*admin));

  // They stream: a batch submitted now reaches both.
  ASSERT_OK_AND_ASSIGN(HttpResponse created,
                       CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken,
                                     SimpleBatch("streamed", 2).dump()));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string id = created.Json()["id"];
  ASSERT_OK_AND_ASSIGN(std::vector<json> got1,
                       ReadUntil(*by_header, IsEvent("batch.enqueued", id)));
  ASSERT_OK_AND_ASSIGN(std::vector<json> got2,
                       ReadUntil(*by_protocol, IsEvent("batch.enqueued", id)));
}

// SIGHUP: a good file replaces the tokens at once; a bad one changes nothing and the log says
// which line is wrong, without quoting it.
TEST_F(AuthTest, SighupReloadsTheTokenFileAndABadFileKeepsTheTokensInUse) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens());
  const std::string new_admin = "rotated-admin-token-5e1d03aa";
  WriteTokenFile(data_dir(), "admin:" + new_admin + "\n");
  ASSERT_EQ(::kill(daemon().pid(), SIGHUP), 0);
  auto status_with = [&](const std::string& token) {
    Result<HttpResponse> r = CallWithToken(client(), "GET", "/api/v1/queue", token);
    return r.ok() ? r->status : -1;
  };
  ASSERT_OK(WaitUntil([&] { return status_with(new_admin) == 200; }, seconds(10),
                      "the new token to be accepted"));
  EXPECT_EQ(status_with(kAdminToken), 401) << "the old admin token is gone";
  EXPECT_EQ(status_with(kReadToken), 401) << "the old read token is gone";

  const std::string leaked = "this-would-be-a-secret-if-it-were-valid";
  WriteTokenFile(data_dir(), "admin:" + new_admin + "\n# fine\nwriter:" + leaked + "\n");
  ASSERT_EQ(::kill(daemon().pid(), SIGHUP), 0);
  ASSERT_OK(WaitUntil(
      [&] {
        return daemon().LogTail(100'000).find("keeping the tokens in use") != std::string::npos;
      },
      seconds(10), "the refused reload to be logged"));
  EXPECT_EQ(status_with(new_admin), 200) << "the tokens in use stay";
  const std::string log = daemon().LogTail(1'000'000);
  EXPECT_NE(log.find("line 3: the role before ':' must be admin or read"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(leaked), std::string::npos) << "the bad line is not quoted";
  EXPECT_EQ(log.find(new_admin), std::string::npos);
}

// Acceptance: the token never appears in the log, at the most talkative level, whatever way it
// came (header, subprotocol, a query string it does not belong in) and whether it was good.
TEST_F(AuthTest, TokensNeverAppearInTheLog) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens({"--log-level", "trace"}));
  const std::string bad = "bad-token-that-must-not-be-logged-77";
  const std::string in_query = "query-token-that-must-not-be-logged-88";
  for (const std::string& token : {kAdminToken, kReadToken, bad}) {
    for (const Call& call : ProtectedCalls()) {
      ASSERT_OK_AND_ASSIGN(HttpResponse r,
                           CallWithToken(client(), call.method, call.target, token, call.body));
    }
    for (const std::string& header :
         {"Bearer " + token, "bearer " + token, token, "Token " + token}) {
      ASSERT_OK_AND_ASSIGN(HttpResponse r, client().Request("GET", "/api/v1/queue", "",
                                                            {{"Authorization", header}}));
    }
    Result<std::unique_ptr<WebSocketClient>> ws = WebSocketClient::Connect(
        daemon().port(), "/api/v1/events",
        {.headers = {{"Sec-WebSocket-Protocol", "batchd.events, bearer." + token}}});
    if (ws.ok()) ASSERT_OK(ReadHello(**ws).status());
  }
  for (const std::string& token : {kAdminToken, in_query}) {
    for (const std::string& target :
         {"/api/v1/batches?access_token=" + token, "/api/v1/events?since=0&access_token=" + token,
          "/api/v1/no/route?token=" + token, "/healthz?t=" + token}) {
      ASSERT_OK_AND_ASSIGN(HttpResponse r, client().Get(target));
      ASSERT_OK_AND_ASSIGN(HttpResponse r2, CallWithToken(client(), "GET", target, kReadToken));
    }
    Result<std::unique_ptr<WebSocketClient>> ws =
        WebSocketClient::Connect(daemon().port(), "/api/v1/events?access_token=" + token);
    EXPECT_FALSE(ws.ok()) << "a query-string token is not a credential";
  }
  ASSERT_EQ(::kill(daemon().pid(), SIGHUP), 0);  // the reload logs too
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());

  const std::string log = daemon().LogTail(64 << 20);
  ASSERT_NE(log.find("reloaded 1 admin and 1 read token(s)"), std::string::npos) << log;
  for (const std::string& secret : {kAdminToken, kReadToken, bad, in_query}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the log holds " << secret;
    EXPECT_EQ(log.find(secret.substr(0, 16)), std::string::npos)
        << "the log holds part of " << secret;
  }
}

}  // namespace
}  // namespace batchd::testing
