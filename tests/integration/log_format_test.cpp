// `batchd serve --log-format json` (daemon/json_log_formatter.h): the daemon's whole log, from
// start to a clean stop with requests, a refused batch and sessions in between, is one JSON
// object per line with time, level and message.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

class LogFormatTest : public DaemonTest {};

TEST_F(LogFormatTest, EveryLineOfTheJsonLogIsAnObjectWithTimeLevelAndMessage) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--log-format", "json"}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SimpleBatch("logged", 20)));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", std::chrono::seconds(60)));
  // Valid JSON (the newline is escaped), but not a batch: an unknown member whose name holds a
  // newline, which the 422's message names.
  ASSERT_OK_AND_ASSIGN(HttpResponse refused, client().Post("/api/v1/batches", "{\"x\\n\": 1}"));
  EXPECT_EQ(refused.status, 422);
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());

  std::ifstream log(daemon().log_path());
  ASSERT_TRUE(log) << daemon().log_path();
  int lines = 0;
  bool saw_listening = false, saw_stopped = false;
  for (std::string line; std::getline(log, line);) {
    ++lines;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "line " << lines << " is not a JSON object: " << line;
    ASSERT_TRUE(j["time"].is_string()) << line;
    ASSERT_TRUE(j["level"].is_string()) << line;
    ASSERT_TRUE(j["message"].is_string()) << line;
    const std::string message = j["message"];
    saw_listening |= message.starts_with("batchd listening on ");
    saw_stopped |= message == "stopped cleanly";
  }
  EXPECT_GE(lines, 3);
  EXPECT_TRUE(saw_listening);
  EXPECT_TRUE(saw_stopped);
}

}  // namespace
}  // namespace batchd::testing
