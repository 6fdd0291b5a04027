// Issue 10, item 7: after `rm batchd.lock` a second daemon on the same data dir started, and at
// its start deleted the first one's in-flight insert as "half-inserted" while the first still
// answered 201. The lock is now held on the data directory itself: deleting any file in it
// changes nothing, the second daemon refuses to start, the first keeps serving.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

class SecondDaemonTest : public DaemonTest {};

TEST_F(SecondDaemonTest, DeletingTheLockFileDoesNotLetASecondDaemonIn) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::filesystem::remove(data_dir() / "batchd.lock");
  ASSERT_OK_AND_ASSIGN(CommandOutput second,
                       RunCommand({BATCHD_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                   data_dir().string()},
                                  std::chrono::seconds(60)));
  EXPECT_NE(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE((second.out + second.err).find("another batchd is already using data dir"),
            std::string::npos)
      << second.out << second.err;
  // The first daemon is untouched and keeps what it is given.
  ASSERT_OK(PostJson(client(), "/api/v1/batches", SimpleBatch("after", 100), 201).status());
  ASSERT_OK_AND_ASSIGN(nlohmann::json list, GetJson(client(), "/api/v1/batches"));
  EXPECT_EQ(list["items"].size(), 1u);
}

}  // namespace
}  // namespace batchd::testing
