// Malformed query parameters on the list endpoints: 400 invalid_query with path "?name"
// (docs/api.md, "Errors").
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

struct BadQueryCase {
  std::string name;
  bool on_sessions;   // /api/v1/batches/{id}/sessions, else /api/v1/batches
  std::string query;  // without '?'
  std::string path;   // expected error.path
};

// GoogleTest prints parameters into test names and messages; the case name says it all.
void PrintTo(const BadQueryCase& c, std::ostream* os) { *os << c.name; }

class InvalidQueryTest : public DaemonTest, public ::testing::WithParamInterface<BadQueryCase> {};

TEST_P(InvalidQueryTest, IsRejectedNamingTheParameter) {
  const BadQueryCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(json seed,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("seed", 3), 201));
  const std::string target =
      (c.on_sessions ? "/api/v1/batches/" + seed["id"].get<std::string>() + "/sessions"
                     : std::string("/api/v1/batches")) +
      "?" + c.query;
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client().Get(target));
  EXPECT_TRUE(IsApiError(response, 400, "invalid_query", c.path)) << "  GET " << target;
}

const BadQueryCase kQueryCases[] = {
    {"BatchesLimitZero", false, "limit=0", "?limit"},
    {"BatchesLimitTooLarge", false, "limit=1001", "?limit"},
    {"BatchesLimitNegative", false, "limit=-1", "?limit"},
    {"BatchesLimitNotANumber", false, "limit=abc", "?limit"},
    {"BatchesLimitTrailingGarbage", false, "limit=5x", "?limit"},
    {"BatchesCursorGarbage", false, "cursor=xyz", "?cursor"},
    {"BatchesStateUnknown", false, "state=bogus", "?state"},
    {"BatchesStateIsASessionState", false, "state=uninitialized", "?state"},
    {"SessionsLimitZero", true, "limit=0", "?limit"},
    {"SessionsLimitTooLarge", true, "limit=1001", "?limit"},
    {"SessionsLimitNotANumber", true, "limit=abc", "?limit"},
    {"SessionsCursorGarbage", true, "cursor=xyz", "?cursor"},
    {"SessionsStateUnknown", true, "state=bogus", "?state"},
    {"SessionsStateIsABatchState", true, "state=queued", "?state"},
};

INSTANTIATE_TEST_SUITE_P(Cases, InvalidQueryTest, ::testing::ValuesIn(kQueryCases),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace batchd::testing
