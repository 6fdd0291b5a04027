// `batchd results ID --format csv|jsonl` against the real daemon (docs/api.md, "Command line"):
// the export on stdout byte for byte as the daemon streams it, over several pages; a bad --format
// is a usage error before any request; a missing batch is the daemon's 404 in words, with nothing
// on stdout.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/cli_runner.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

// The exit codes of cli/exit_codes.h, as a script sees them.
constexpr int kOk = 0, kUsage = 2, kRefused = 4;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class CliResultsTest : public DaemonTest {
 protected:
  CliResult Cli(std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back("http://127.0.0.1:" + std::to_string(daemon().port()));
    Result<CliResult> r = RunCli(BATCHD_BINARY, args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CliResult{};
  }
};

TEST_F(CliResultsTest, ResultsWritesTheExportToStdoutInEitherFormat) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  // 2500 sessions: three pages of the daemon's export.
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("export", 2500, 1)));

  CliResult csv = Cli({"results", id, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, kOk) << csv.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse rest,
                       client().Get("/api/v1/batches/" + id + "/results?format=csv"));
  ASSERT_EQ(rest.status, 200) << rest.Describe();
  EXPECT_EQ(csv.out, rest.body) << "the CLI prints the export byte for byte";
  EXPECT_EQ(csv.out.rfind("session_id,ordinal,run,index,values,state,attempts,result,"
                          "error_kind,error_message\r\n",
                          0),
            0u);
  size_t records = 0;
  for (size_t at = csv.out.find("\r\n"); at != std::string::npos;
       at = csv.out.find("\r\n", at + 2)) {
    ++records;
  }
  EXPECT_EQ(records, 2501u);

  CliResult jsonl = Cli({"results", id});  // jsonl by default
  ASSERT_EQ(jsonl.exit_code, kOk) << jsonl.Describe();
  const std::vector<std::string> lines = Lines(jsonl.out);
  ASSERT_EQ(lines.size(), 2500u);
  EXPECT_EQ(json::parse(lines[2499])["values"]["/n"], 2499);

  CliResult bad = Cli({"results", id, "--format", "xml"});
  EXPECT_EQ(bad.exit_code, kUsage) << bad.Describe();
  EXPECT_NE(bad.err.find("--format must be jsonl or csv"), std::string::npos) << bad.Describe();
  EXPECT_TRUE(bad.out.empty());

  CliResult missing = Cli({"results", "00000000000000ff", "--format", "csv"});
  EXPECT_EQ(missing.exit_code, kRefused) << missing.Describe();
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.Describe();
  EXPECT_NE(missing.err.find("HTTP 404"), std::string::npos) << missing.Describe();
  EXPECT_TRUE(missing.out.empty()) << "an error body is never printed as the export";
}

}  // namespace
}  // namespace batchd::testing
