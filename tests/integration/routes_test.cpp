// Routing: unknown batches, sessions and paths are 404, known paths with the wrong method are
// 405, and /healthz answers without touching the database.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

class RoutesTest : public DaemonTest {};

TEST_F(RoutesTest, UnknownBatchSessionOrRouteIsNotFound) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(json seed,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("seed", 3), 201));
  ASSERT_OK_AND_ASSIGN(
      json sessions,
      GetJson(client(), "/api/v1/batches/" + seed["id"].get<std::string>() + "/sessions"));
  int64_t max_session_id = 0;
  for (const json& s : sessions["items"]) {
    max_session_id = std::max(max_session_id, s["id"].get<int64_t>());
  }

  for (const std::string& target : {
           std::string("/api/v1/batches/ffffffffffffffff"),
           std::string("/api/v1/batches/ffffffffffffffff/sessions"),
           "/api/v1/sessions/" + std::to_string(max_session_id + 1),
           std::string("/api/v1/sessions/0"),
           std::string("/api/v1/sessions/not-a-number"),
           std::string("/api/v1/no-such-route"),
           std::string("/api/v2/batches"),
       }) {
    ASSERT_OK_AND_ASSIGN(HttpResponse response, client().Get(target));
    EXPECT_TRUE(IsApiError(response, 404, "not_found", "")) << "  GET " << target;
  }
}

TEST_F(RoutesTest, KnownRouteWithWrongMethodIsMethodNotAllowed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  for (const auto& [method, target] :
       {std::pair{"PUT", "/api/v1/batches"}, std::pair{"PATCH", "/api/v1/batches"},
        std::pair{"POST", "/healthz"}}) {
    ASSERT_OK_AND_ASSIGN(
        HttpResponse response,
        client().Request(method, target, "{}", {{"Content-Type", "application/json"}}));
    EXPECT_TRUE(IsApiError(response, 405, "method_not_allowed", ""))
        << "  " << method << " " << target;
  }
}

TEST_F(RoutesTest, HealthzAnswersOk) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(json health, GetJson(client(), "/healthz"));
  EXPECT_EQ(health["status"], "ok") << health.dump();
  EXPECT_TRUE(health["writer_queue"].is_number_integer()) << health.dump();
  EXPECT_TRUE(health["reader_queue"].is_number_integer()) << health.dump();
}

}  // namespace
}  // namespace batchd::testing
