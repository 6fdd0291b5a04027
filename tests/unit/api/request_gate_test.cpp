// The request gate's decisions (api/request_gate.h), one rule at a time: origins, preflights,
// open paths, missing, unknown and insufficient tokens, where a token may come from, and a
// reload. The same rules against the real daemon are in integration/auth_test.cpp.
#include "api/request_gate.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/credentials.h"

namespace batchd::api {
namespace {

const std::string kAdmin = "admin-token-0123456789";
const std::string kRead = "read-token-0123456789";

std::shared_ptr<const TokenSet> Tokens(const std::string& text) {
  Result<TokenSet> set = TokenSet::Parse(text);
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  return std::make_shared<const TokenSet>(std::move(*set));
}

std::shared_ptr<const TokenSet> StandardTokens() {
  return Tokens("admin:" + kAdmin + "\nread:" + kRead + "\n");
}

HttpRequest Request(std::string method, std::string path,
                    std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers = std::move(headers);
  r.headers.emplace("host", "127.0.0.1:8080");
  return r;
}

std::string Code(const HttpResponse& r) {
  return nlohmann::json::parse(r.body)["error"]["code"].get<std::string>();
}

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(RequestGateTest, WithoutTokensEverythingGoesAhead) {
  RequestGate gate({}, nullptr);
  EXPECT_FALSE(gate.requires_tokens());
  for (const char* method : {"GET", "POST", "DELETE"}) {
    EXPECT_FALSE(gate.Admit(Request(method, "/api/v1/batches")).has_value()) << method;
  }
}

TEST(RequestGateTest, NoTokenIs401WithABearerChallenge) {
  RequestGate gate({}, StandardTokens());
  EXPECT_TRUE(gate.requires_tokens());
  for (const char* path : {"/api/v1/batches", "/api/v1/events", "/metrics", "/nowhere"}) {
    std::optional<HttpResponse> r = gate.Admit(Request("GET", path));
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(Code(*r), "unauthorized");
    EXPECT_EQ(Header(*r, "WWW-Authenticate"), "Bearer realm=\"batchd\"");
  }
}

TEST(RequestGateTest, UnknownOrMalformedCredentialsAre401) {
  RequestGate gate({}, StandardTokens());
  for (const std::string& value :
       {std::string("Bearer nope-nope-nope-nope"), "Bearer " + kAdmin + "x", "Basic " + kAdmin,
        kAdmin, std::string("Bearer"), std::string("Bearer   ")}) {
    std::optional<HttpResponse> r =
        gate.Admit(Request("GET", "/api/v1/batches", {{"authorization", value}}));
    ASSERT_TRUE(r.has_value()) << value;
    EXPECT_EQ(r->status, 401) << value;
    EXPECT_NE(Header(*r, "WWW-Authenticate").find("error="), std::string::npos) << value;
  }
}

TEST(RequestGateTest, AReadTokenReadsAndIs403ForEverythingElse) {
  RequestGate gate({}, StandardTokens());
  const std::map<std::string, std::string> read = {{"authorization", "Bearer " + kRead}};
  EXPECT_FALSE(gate.Admit(Request("GET", "/api/v1/batches", read)).has_value());
  EXPECT_FALSE(gate.Admit(Request("HEAD", "/api/v1/batches", read)).has_value());
  for (const char* method : {"POST", "DELETE", "PUT", "PATCH"}) {
    std::optional<HttpResponse> r = gate.Admit(Request(method, "/api/v1/batches", read));
    ASSERT_TRUE(r.has_value()) << method;
    EXPECT_EQ(r->status, 403) << method;
    EXPECT_EQ(Code(*r), "forbidden");
    EXPECT_NE(Header(*r, "WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  }
  const std::map<std::string, std::string> admin = {{"authorization", "bearer " + kAdmin}};
  for (const char* method : {"GET", "POST", "DELETE"}) {
    EXPECT_FALSE(gate.Admit(Request(method, "/api/v1/batches", admin)).has_value()) << method;
  }
}

TEST(RequestGateTest, TheHealthCheckAndDashboardFilesAreOpenToGetOnly) {
  RequestGate gate({}, StandardTokens());
  for (const char* path : {"/healthz", "/", "/ui/app.js", "/ui/views/list.js"}) {
    EXPECT_FALSE(gate.Admit(Request("GET", path)).has_value()) << path;
    EXPECT_TRUE(gate.Admit(Request("POST", path)).has_value()) << path;
  }
  for (const char* path : {"/healthz/x", "/uix", "/api/v1/openapi.json", "/ui"}) {
    EXPECT_TRUE(gate.Admit(Request("GET", path)).has_value()) << path;
  }
}

TEST(RequestGateTest, AWebSocketMayCarryItsTokenAsASubprotocol) {
  RequestGate gate({}, StandardTokens());
  const std::map<std::string, std::string> upgrade = {
      {"upgrade", "websocket"}, {"sec-websocket-protocol", "batchd.events, bearer." + kRead}};
  EXPECT_FALSE(gate.Admit(Request("GET", "/api/v1/events", upgrade)).has_value());
  HttpRequest offered = Request("GET", "/api/v1/events", upgrade);
  EXPECT_TRUE(OffersSubprotocol(offered, kEventsSubprotocol));

  // Only on an upgrade: a plain request must use the header.
  std::map<std::string, std::string> plain = upgrade;
  plain.erase("upgrade");
  EXPECT_TRUE(gate.Admit(Request("GET", "/api/v1/events", plain)).has_value());

  std::map<std::string, std::string> wrong = upgrade;
  wrong["sec-websocket-protocol"] = "bearer.wrong-token-0123456789";
  std::optional<HttpResponse> r = gate.Admit(Request("GET", "/api/v1/events", wrong));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 401);
}

TEST(RequestGateTest, ForeignOriginsAreRefusedUnlessAllowed) {
  RequestGate gate({"https://ui.example.com"}, nullptr);
  // The daemon's own page, a listed one, and clients that send no Origin go ahead.
  EXPECT_FALSE(gate.Admit(Request("POST", "/api/v1/batches", {{"origin", "http://127.0.0.1:8080"}}))
                   .has_value());
  EXPECT_FALSE(
      gate.Admit(Request("POST", "/api/v1/batches", {{"origin", "https://UI.example.com"}}))
          .has_value());
  EXPECT_FALSE(gate.Admit(Request("POST", "/api/v1/batches")).has_value());
  for (const char* origin : {"http://evil.example", "http://127.0.0.1:8081", "null",
                             "https://ui.example.com:8443", "http://ui.example.com"}) {
    std::optional<HttpResponse> r =
        gate.Admit(Request("POST", "/api/v1/batches", {{"origin", origin}}));
    ASSERT_TRUE(r.has_value()) << origin;
    EXPECT_EQ(r->status, 403) << origin;
    EXPECT_EQ(Code(*r), "origin_not_allowed");
    EXPECT_EQ(Header(*r, "Access-Control-Allow-Origin"), "");
  }
}

TEST(RequestGateTest, PreflightsFromAllowedOriginsAreAnsweredWithoutAToken) {
  RequestGate gate({"https://ui.example.com"}, StandardTokens());
  std::optional<HttpResponse> r =
      gate.Admit(Request("OPTIONS", "/api/v1/batches",
                         {{"origin", "https://ui.example.com"},
                          {"access-control-request-method", "POST"},
                          {"access-control-request-headers", "authorization, content-type"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(Header(*r, "Access-Control-Allow-Origin"), "https://ui.example.com");
  EXPECT_NE(Header(*r, "Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(Header(*r, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(Header(*r, "Vary"), "Origin");

  std::optional<HttpResponse> foreign = gate.Admit(
      Request("OPTIONS", "/api/v1/batches",
              {{"origin", "https://other.example"}, {"access-control-request-method", "POST"}}));
  ASSERT_TRUE(foreign.has_value());
  EXPECT_EQ(foreign->status, 403);
  EXPECT_EQ(Header(*foreign, "Access-Control-Allow-Origin"), "");
}

TEST(RequestGateTest, CorsHeadersOnlyForAllowedOrigins) {
  RequestGate gate({"https://ui.example.com"}, nullptr);
  HttpResponse allowed;
  gate.AddCorsHeaders("https://ui.example.com", allowed);
  EXPECT_EQ(Header(allowed, "Access-Control-Allow-Origin"), "https://ui.example.com");
  HttpResponse own;
  gate.AddCorsHeaders("http://127.0.0.1:8080", own);
  EXPECT_TRUE(own.headers.empty()) << "same-origin answers need none";
  HttpResponse none;
  gate.AddCorsHeaders("", none);
  EXPECT_TRUE(none.headers.empty());
  // Every answer passes here, a preflight's too: its headers are not added twice.
  const size_t count = allowed.headers.size();
  gate.AddCorsHeaders("https://ui.example.com", allowed);
  EXPECT_EQ(allowed.headers.size(), count);
}

TEST(RequestGateTest, CorsOriginsMustBeBareOrigins) {
  for (const char* ok : {"http://localhost:3000", "https://ui.example.com", "http://[::1]:8080"}) {
    EXPECT_TRUE(CorsPolicy::CheckOrigin(ok).ok()) << ok;
  }
  for (const char* bad : {"ui.example.com", "https://ui.example.com/", "https://x/path", "*",
                          "ftp://x", "https://", "http://:80", "https://a?b"}) {
    EXPECT_FALSE(CorsPolicy::CheckOrigin(bad).ok()) << bad;
  }
  EXPECT_TRUE(CorsPolicy::IsSameOrigin("http://example.com", "example.com:80"));
  EXPECT_TRUE(CorsPolicy::IsSameOrigin("https://example.com:443", "Example.com"));
  EXPECT_FALSE(CorsPolicy::IsSameOrigin("http://example.com", "example.com:8080"));
  EXPECT_FALSE(CorsPolicy::IsSameOrigin("http://example.com", ""));
}

TEST(RequestGateTest, AReloadSwapsTheTokens) {
  RequestGate gate({}, StandardTokens());
  const std::map<std::string, std::string> old_admin = {{"authorization", "Bearer " + kAdmin}};
  const std::string rotated = "rotated-admin-token-0123";
  const std::map<std::string, std::string> new_admin = {{"authorization", "Bearer " + rotated}};
  EXPECT_FALSE(gate.Admit(Request("POST", "/api/v1/batches", old_admin)).has_value());
  gate.ReplaceTokens(Tokens("admin:" + rotated));
  EXPECT_TRUE(gate.Admit(Request("POST", "/api/v1/batches", old_admin)).has_value());
  EXPECT_FALSE(gate.Admit(Request("POST", "/api/v1/batches", new_admin)).has_value());
}

}  // namespace
}  // namespace batchd::api
