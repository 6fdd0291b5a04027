// Issue 10, item 5 (outbound reach, SSRF): http:// stores reach only what --http-allow lists,
// never the daemon's own endpoint (by the URL's host when the store opens, and by every
// resolved address when the client connects), and their errors carry no text the server chose.
// Against scripted loopback servers; the daemon end to end is in
// integration/issue10_outbound_allowlist_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>

#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/http_client.h"
#include "tests/store/store_backends.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using pipeline::HttpAllowlist;
using Reply = ScriptedHttpServer::Reply;
using Request = ScriptedHttpServer::Request;

std::unique_ptr<ScriptedHttpServer> StartServer(std::string body = "payload") {
  auto server = ScriptedHttpServer::Start([body](const Request&) { return Reply{200, body}; });
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

std::shared_ptr<HttpAllowlist> Allowlist(const std::vector<std::string>& entries) {
  auto made = HttpAllowlist::Create(entries);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? *made : nullptr;
}

std::unique_ptr<pipeline::StoreRegistry> Registry(std::shared_ptr<const HttpAllowlist> allow) {
  auto registry = std::make_unique<pipeline::StoreRegistry>();
  pipeline::StoreOptions options;
  options.http_retries = 0;
  options.http_allowlist = std::move(allow);
  pipeline::RegisterBuiltinStores(*registry, options);
  return registry;
}

std::string Port(const ScriptedHttpServer& server) { return std::to_string(server.port()); }

TEST(HttpOutboundTest, AStoreOpensOnlyOnAListedHostAndPort) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto listed = Registry(Allowlist({"127.0.0.1:" + Port(*server)}));
  ASSERT_OK_AND_ASSIGN(auto store, listed->Open(server->Url("/arr")));
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "k"));
  EXPECT_TRUE(value.has_value());
  EXPECT_EQ(server->requests_received(), 1);

  const std::string other_port =
      "http://127.0.0.1:" + std::to_string(server->port() == 65535 ? 1 : server->port() + 1) + "/a";
  for (const std::string& url : {other_port, "http://localhost:" + Port(*server) + "/arr",
                                 std::string("http://192.0.2.1/arr")}) {
    Status s = listed->Open(url).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("store URL \"" + url + "\" is refused"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find(
                  "not in the outbound allowlist (--http-allow 127.0.0.1:" + Port(*server) + ")"),
              std::string::npos)
        << s.message();
  }

  // Nothing listed, or no allowlist at all (a registry outside the daemon): nothing opens.
  std::vector<std::unique_ptr<pipeline::StoreRegistry>> closed;
  closed.push_back(Registry(Allowlist({})));
  closed.push_back(Registry(nullptr));
  for (const auto& registry : closed) {
    Status s = registry->Open(server->Url("/arr")).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  }
  EXPECT_NE(Registry(Allowlist({}))
                ->Open(server->Url("/arr"))
                .status()
                .message()
                .find("start the daemon with --http-allow HOST[:PORT]"),
            std::string::npos);
  EXPECT_EQ(server->requests_received(), 1) << "no refused URL sent a request";
}

TEST(HttpOutboundTest, TheOwnEndpointIsRefusedWhenTheStoreOpensEvenIfListed) {
  auto server = StartServer();  // stands in for the daemon's API
  ASSERT_TRUE(server);
  std::shared_ptr<HttpAllowlist> allow = Allowlist({"127.0.0.1", "localhost", "[::1]"});
  ASSERT_TRUE(allow);
  allow->SetOwnEndpoint("127.0.0.1", server->port());
  auto registry = Registry(allow);
  for (const std::string& host : {"127.0.0.1", "localhost", "[::1]", "127.0.0.7", "2130706433"}) {
    const std::string url = "http://" + host + ":" + Port(*server) + "/api/v1/sessions/1";
    Status s = registry->Open(url).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("is the daemon's own API endpoint"), std::string::npos)
        << s.message();
  }
  EXPECT_EQ(server->requests_received(), 0);
}

// Defence in depth: the URL passed when the store opened (a batch stored before the daemon
// moved to that port, a name that resolves elsewhere now), and the client still refuses to
// connect, by the literal address and by what a name resolves to.
TEST(HttpOutboundTest, AStoreThatPassedAtOpenIsRefusedWhenItConnectsToTheOwnEndpoint) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  std::shared_ptr<HttpAllowlist> allow = Allowlist({"127.0.0.1", "localhost"});
  ASSERT_TRUE(allow);
  auto registry = Registry(allow);
  ASSERT_OK_AND_ASSIGN(auto by_address, registry->Open(server->Url("/arr")));
  ASSERT_OK_AND_ASSIGN(auto by_name, registry->Open("http://localhost:" + Port(*server) + "/arr"));
  allow->SetOwnEndpoint("127.0.0.1", server->port());
  for (auto* store : {by_address.get(), by_name.get()}) {
    Status s = pipeline::ReadKey(*store, "k").status();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << store->url() << ": " << s.message();
    EXPECT_NE(s.message().find("own API endpoint"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(
                  "GET " +
                  std::string(store == by_name.get() ? "http://localhost:" : "http://127.0.0.1:") +
                  Port(*server) + "/arr/k"),
              std::string::npos)
        << s.message();
    EXPECT_EQ(pipeline::WriteKey(*store, "k", pipeline::Bytes(4, 1)).code(),
              StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(server->requests_received(), 0);
}

TEST(HttpOutboundTest, TheClientAsksAboutEveryResolvedAddressBeforeConnecting) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  std::mutex mu;
  std::vector<std::string> asked;  // guarded by mu
  bool refuse = true;              // guarded by mu
  pipeline::HttpClientOptions options;
  options.retries = 0;
  options.check_address = [&](const std::string& address, uint16_t port) {
    std::lock_guard lock(mu);
    asked.push_back(address + " " + std::to_string(port));
    return refuse ? Status::FailedPrecondition("refused by the test") : Status::Ok();
  };
  std::shared_ptr<pipeline::HttpClient> client = pipeline::HttpClient::Create(options);
  auto get = [&](const std::string& host) {
    pipeline::HttpRequest request;
    request.host = host;
    request.port = server->port();
    request.target = "/x";
    std::promise<Result<pipeline::HttpResponse>> done;
    client->Send(std::move(request),
                 [&](Result<pipeline::HttpResponse> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  };
  for (const char* host : {"localhost", "127.0.0.1"}) {
    Result<pipeline::HttpResponse> refused = get(host);
    ASSERT_FALSE(refused.ok()) << host;
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("GET http://" + std::string(host) + ":" +
                                              Port(*server) + "/x: refused by the test"),
              std::string::npos)
        << refused.status().message();
  }
  {
    std::lock_guard lock(mu);
    EXPECT_NE(std::find(asked.begin(), asked.end(), "127.0.0.1 " + Port(*server)), asked.end())
        << "localhost resolves to 127.0.0.1 here (/etc/hosts), and that address was asked about";
    refuse = false;
  }
  EXPECT_EQ(server->requests_received(), 0);
  ASSERT_OK_AND_ASSIGN(pipeline::HttpResponse answered, get("localhost"));
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(server->requests_received(), 1);
}

TEST(HttpOutboundTest, ErrorsNameTheStatusButNotTheServersReasonPhraseOrBody) {
  auto server = ScriptedHttpServer::Start([](const Request&) {
    return Reply{.status = 403,
                 .body = "secret-body-of-seventeen",
                 .reason = "secret reason from the server"};
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto registry = Registry(Allowlist({"127.0.0.1"}));
  ASSERT_OK_AND_ASSIGN(auto store, registry->Open((*server)->Url("/arr")));
  Status s = pipeline::ReadKey(*store, "k").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("403 Forbidden"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace batchd::testing
