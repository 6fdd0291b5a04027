// Issue 10, item 4 (DNS rebinding): without tokens the gate answers only loopback Host values and
// --allowed-host names. The same against the real daemon, over raw sockets, is in
// integration/issue10_dns_rebinding_test.cpp.
#include "api/host_allowlist.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/request_gate.h"

namespace batchd::api {
namespace {

TEST(HostAllowlistTest, LoopbackNamesWithAndWithoutPortsAreAllowed) {
  const HostAllowlist hosts({});
  for (const char* h : {"localhost", "LocalHost:8080", "localhost.", "127.0.0.1", "127.0.0.1:9",
                        "127.255.3.4:80", "[::1]", "[::1]:8080", ""}) {
    EXPECT_TRUE(hosts.IsAllowed(h)) << h;
  }
  for (const char* h :
       {"attacker.example", "attacker.example:8080", "localhost.attacker.example",
        "127.0.0.1.attacker.example", "128.0.0.1", "127.0.0.256", "127.1", "0x7f.0.0.1", "[::2]:80",
        "[::ffff:127.0.0.1]", "0.0.0.0:8080", "192.168.1.5"}) {
    EXPECT_FALSE(hosts.IsAllowed(h)) << h;
  }
}

TEST(HostAllowlistTest, AllowedHostNamesAreComparedWithoutCaseOrPort) {
  const HostAllowlist hosts({"Batchd.Internal"});
  EXPECT_TRUE(hosts.IsAllowed("batchd.internal"));
  EXPECT_TRUE(hosts.IsAllowed("BATCHD.internal:8080"));
  EXPECT_FALSE(hosts.IsAllowed("x.batchd.internal"));
  EXPECT_EQ(HostAllowlist::HostName("[::1]:80"), "::1");
  EXPECT_EQ(HostAllowlist::HostName(" Example.COM:80 "), "example.com");
}

HttpRequest WithHost(const std::string& host, const std::string& origin = "") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/batches";
  r.headers.emplace("host", host);
  if (!origin.empty()) r.headers.emplace("origin", origin);
  return r;
}

TEST(HostAllowlistTest, TheTokenlessGateRefusesARebindingPageAndATokenGateDoesNot) {
  const RequestGate open({}, nullptr);
  // The rebinding page is same-origin with itself: Origin matches Host.
  std::optional<HttpResponse> r =
      open.Admit(WithHost("attacker.example:8080", "http://attacker.example:8080"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], "host_not_allowed");
  EXPECT_FALSE(open.Admit(WithHost("127.0.0.1:8080")).has_value());
  EXPECT_FALSE(RequestGate({}, nullptr, {"batchd.internal"})
                   .Admit(WithHost("batchd.internal:8080"))
                   .has_value());
  // With tokens the token decides (here: none given, so 401, not 403 host_not_allowed).
  Result<TokenSet> tokens = TokenSet::Parse("admin:admin-token-0123456789\n");
  ASSERT_TRUE(tokens.ok());
  const RequestGate gated({}, std::make_shared<const TokenSet>(std::move(*tokens)));
  std::optional<HttpResponse> g = gated.Admit(WithHost("batchd.example.com"));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->status, 401);
}

}  // namespace
}  // namespace batchd::api
