// GET /api/v1/openapi.json from the real daemon, and every operation it documents is served:
// called with placeholder ids and values, none is answered "no route" (404 for the path) or 405.
// (That every served route is documented is checked against the router itself, in
// unit/daemon/openapi_test.cpp.) With a token file, the operations the document marks open are
// the only ones served without a token.
#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

class OpenApiServedTest : public DaemonTest {};

// A request target for a documented path: `id` for {id}, and the dashboard's own files for
// {dir} and {file}.
std::string TargetFor(const std::string& path, const std::string& id) {
  std::string target = std::regex_replace(path, std::regex(R"(\{id\})"), id);
  target = std::regex_replace(target, std::regex(R"(\{dir\})"), "views");
  return std::regex_replace(target, std::regex(R"(\{file\})"),
                            path.find("{dir}") != std::string::npos ? "list.js" : "app.js");
}

// Calls one documented operation (`method` as the document spells it, lower case) without a
// token; a POST sends an empty JSON object. `verb` is set to the method in upper case.
Result<HttpResponse> CallOperation(HttpClient& client, const std::string& method,
                                   const std::string& target, std::string& verb) {
  verb = method;
  for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return client.Request(verb, target, verb == "POST" ? "{}" : "",
                        {{"Content-Type", "application/json"}});
}

TEST_F(OpenApiServedTest, EveryDocumentedOperationIsServed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(HttpResponse raw, client().Get("/api/v1/openapi.json"));
  ASSERT_EQ(raw.status, 200) << raw.Describe();
  EXPECT_EQ(raw.headers["content-type"], "application/json");
  const json doc = raw.Json();
  ASSERT_FALSE(doc.is_discarded());
  ASSERT_TRUE(doc["paths"].is_object());

  int operations = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    // Placeholders: a batch id that does not exist, session 1, the dashboard's own files.
    const std::string target =
        TargetFor(path, path.starts_with("/api/v1/sessions") ? "1" : "00000000000000ff");
    for (const auto& [method, op] : item.items()) {
      std::string verb;
      ASSERT_OK_AND_ASSIGN(HttpResponse r, CallOperation(client(), method, target, verb));
      EXPECT_NE(r.status, 405) << verb << " " << target << ": " << r.Describe();
      const json body = r.Json();
      const bool no_route = r.status == 404 && !body.is_discarded() &&
                            body["error"]["message"].get<std::string>().starts_with("no route");
      EXPECT_FALSE(no_route) << verb << " " << target << ": " << r.Describe();
      // The answer is one the document lists for this operation.
      EXPECT_TRUE(op["responses"].contains(std::to_string(r.status)))
          << verb << " " << target << " answered " << r.status << ", not documented";
      ++operations;
    }
  }
  EXPECT_GE(operations, 20);
}

// With a token file, the document says which operations need a token (all but those with
// `security: []`), and the daemon agrees: each of the others is 401 without one, and each
// answer is documented. A route added later is covered by the same check.
TEST_F(OpenApiServedTest, EveryOperationNeedsATokenUnlessDocumentedOpen) {
  const std::filesystem::path tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--token-file", tokens.string()}));
  ASSERT_OK_AND_ASSIGN(HttpResponse raw,
                       CallWithToken(client(), "GET", "/api/v1/openapi.json", kReadToken));
  ASSERT_EQ(raw.status, 200) << raw.Describe();
  const json doc = raw.Json();
  ASSERT_EQ(doc["security"], json::parse(R"([{"bearer": []}])"));
  ASSERT_EQ(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

  int open = 0, guarded = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    const std::string target = TargetFor(path, "1");
    for (const auto& [method, op] : item.items()) {
      std::string verb;
      ASSERT_OK_AND_ASSIGN(HttpResponse r, CallOperation(client(), method, target, verb));
      const bool documented_open = op.contains("security") && op["security"].empty();
      if (documented_open) {
        ++open;
        EXPECT_NE(r.status, 401) << verb << " " << target << " is documented open";
      } else {
        ++guarded;
        EXPECT_EQ(r.status, 401) << verb << " " << target << ": " << r.Describe();
      }
      EXPECT_TRUE(op["responses"].contains(std::to_string(r.status)))
          << verb << " " << target << " answered " << r.status << ", not documented";
    }
  }
  EXPECT_EQ(open, 4) << "the health check and the dashboard's three routes";
  EXPECT_GE(guarded, 17);
}

}  // namespace
}  // namespace batchd::testing
