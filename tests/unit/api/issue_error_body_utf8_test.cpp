// Regression (found by fuzz/http_router_fuzzer): a request whose percent-decoded path is not
// UTF-8 (GET /%FF) got a 404 whose message quotes the path; dumping that body threw on the
// HTTP thread and ended the daemon. Error bodies are now always JSON, with U+FFFD for such bytes.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "api/error_response.h"
#include "api/query_params.h"
#include "api/router.h"

namespace batchd::api {
namespace {

nlohmann::json ParseBody(const HttpResponse& r) {
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(body.is_discarded()) << r.body;
  return body;
}

TEST(IssueErrorBodyUtf8Test, MessageAndPathWithInvalidBytes) {
  HttpResponse r;
  ASSERT_NO_THROW(r = ErrorResponse(404, "not_found", "no route for /\xff\xfe", "?\xc3"));
  EXPECT_EQ(r.status, 404);
  const nlohmann::json body = ParseBody(r);
  EXPECT_EQ(body["error"]["code"], "not_found");
  EXPECT_EQ(body["error"]["message"], "no route for /\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(IssueErrorBodyUtf8Test, UnroutedPathThatIsNotUtf8) {
  Router router;
  router.Add("GET", "/healthz", [](HttpRequest&, Responder respond) { respond({}); });
  HttpRequest request = RequestFromTarget("GET", "/%FF%C3", "");
  ASSERT_EQ(request.path, "/\xff\xc3");
  HttpResponse response;
  ASSERT_NO_THROW(router.Dispatch(request, [&](HttpResponse r) { response = std::move(r); }));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(ParseBody(response)["error"]["code"], "not_found");
}

TEST(IssueErrorBodyUtf8Test, StatusWithInvalidBytes) {
  HttpResponse r;
  ASSERT_NO_THROW(
      r = ErrorResponse(Status::Malformed("state must be a batch state, got '\x80'", "?state")));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ParseBody(r)["error"]["code"], "invalid_query");
}

}  // namespace
}  // namespace batchd::api
