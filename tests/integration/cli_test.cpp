// The batchd CLI against the real daemon (docs/api.md, "Command line"): submit --watch exits 0
// on a completed batch and non-zero on a failed or canceled one, watch prints one line per
// update when stdout is not a terminal and redraws a bar when it is, it reconnects across a
// daemon restart without losing counts, and every mistake has its exit code and its words.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/cli_runner.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The exit codes of cli/exit_codes.h, as a script sees them.
constexpr int kOk = 0, kFailed = 1, kUsage = 2, kCanceled = 3, kRefused = 4, kUnreachable = 5;

// A port nothing listens on right now.
uint16_t FreePort() {
  Result<uint16_t> port = PickFreePort();
  EXPECT_TRUE(port.ok()) << port.status().ToString();
  return port.ok() ? *port : 0;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class CliTest : public DaemonTest {
 protected:
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(daemon_port_); }

  void Start(std::vector<std::string> args = {}) {
    ASSERT_NO_FATAL_FAILURE(StartDaemon(std::move(args)));
    daemon_port_ = daemon().port();
  }

  // `batchd ARGS --server URL` (the daemon's), or exactly ARGS with `with_server` false.
  CliResult Cli(std::vector<std::string> args, CliOptions options = {}, bool with_server = true) {
    if (with_server) {
      args.push_back("--server");
      args.push_back(Url());
    }
    Result<CliResult> r = RunCli(BATCHD_BINARY, args, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CliResult{};
  }

  std::string WriteFile(const std::string& name, const json& content) {
    const std::filesystem::path path = data_dir() / name;
    std::ofstream(path) << content.dump();
    return path.string();
  }

  uint16_t daemon_port_ = 0;
};

// "2026-...Z ID STATE DONE/TOTAL (P%) completed=C error=E canceled=X in_progress=R ..."
const std::regex kPlainLine(
    R"(^\S+Z ([0-9a-f]{16}) (queued|running|paused|completed|failed|canceled) (\d+)/(\d+) \([0-9.]+%\) completed=(\d+) error=(\d+) canceled=(\d+) in_progress=(\d+)( rate=\S+/s)?( eta=\S+)?$)");

TEST_F(CliTest, SubmitWatchExitsZeroOnACompletedBatchWithALinePerUpdate) {
  ASSERT_NO_FATAL_FAILURE(Start({"--slots", "2"}));
  json batch = SleepBatch("watched", 20, 50);
  batch["max_running"] = 2;
  const std::string file = WriteFile("ok.json", batch);

  CliResult r = Cli({"submit", file, "--watch"});
  ASSERT_EQ(r.exit_code, kOk) << r.Describe();
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 5u) << r.Describe();
  const std::string id = lines[0];
  ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}"))) << "the id alone first: " << id;
  EXPECT_NE(r.err.find("submitted batch " + id + " with 20 sessions"), std::string::npos);
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no redraws when stdout is not a terminal";
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no escape sequences either";

  // One line per update: parsable, about this batch, never going back.
  int64_t done_before = -1;
  size_t updates = 0;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, kPlainLine)) << "line " << i << ": " << lines[i];
    EXPECT_EQ(m[1], id);
    const int64_t done = std::stoll(m[3]);
    EXPECT_GE(done, done_before) << lines[i];
    done_before = done;
    EXPECT_EQ(m[4], "20");
    ++updates;
  }
  EXPECT_GE(updates, 3u) << "several updates while it ran, each on its own line";
  EXPECT_NE(lines[lines.size() - 2].find(" completed 20/20 (100.0%)"), std::string::npos);
  EXPECT_EQ(
      lines.back(),
      "batch " + id + " (watched) completed: 20 sessions, 20 completed, 0 errors, 0 canceled");
  ASSERT_OK_AND_ASSIGN(json rest, GetJson(client(), "/api/v1/batches/" + id));
  EXPECT_EQ(rest["counts"]["completed"], 20);
}

TEST_F(CliTest, SubmitWatchExitsNonZeroOnAFailedBatchAndSaysWhy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string file =
      WriteFile("bad.json", FailBatch("broken", 3, "permanent", std::nullopt, "disk on fire"));
  CliResult r = Cli({"submit", file, "--watch"});
  EXPECT_EQ(r.exit_code, kFailed) << r.Describe();
  const std::vector<std::string> lines = Lines(r.out);
  int error_lines = 0;
  for (const std::string& l : lines) {
    if (std::regex_match(
            l, std::regex(R"(session \d+ failed \(permanent\) after attempt 1: disk on fire)"))) {
      ++error_lines;
    }
  }
  EXPECT_EQ(error_lines, 3) << r.out;
  EXPECT_NE(lines.back().find("failed: 3 sessions, 0 completed, 3 errors, 0 canceled"),
            std::string::npos)
      << r.out;
}

// Errors from before the watch subscribed are not in its stream: it reads them over REST.
TEST_F(CliTest, WatchOfABatchThatAlreadyFailedStillSaysWhy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), FailBatch("early", 7, "permanent",
                                                                       std::nullopt, "no disk")));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(30)));
  CliResult r = Cli({"watch", id});
  EXPECT_EQ(r.exit_code, kFailed) << r.Describe();
  int error_lines = 0;
  for (const std::string& l : Lines(r.out)) {
    if (std::regex_match(
            l, std::regex(R"(session \d+ failed \(permanent\) after attempt 1: no disk)"))) {
      ++error_lines;
    }
  }
  EXPECT_EQ(error_lines, 5) << "the first five, then a count of the rest: " << r.out;
  EXPECT_NE(r.out.find("... 2 more: GET /api/v1/batches/" + id + "/sessions?state=error"),
            std::string::npos)
      << r.out;
}

TEST_F(CliTest, WatchExitsThreeWhenTheBatchIsCanceled) {
  ASSERT_NO_FATAL_FAILURE(Start({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("doomed", 10, 60'000)));
  ASSERT_OK_AND_ASSIGN(json running, WaitForBatchState(client(), id, "running", seconds(30)));
  std::future<CliResult> watch = std::async(std::launch::async, [&] { return Cli({"watch", id}); });
  // Cancel once the watcher follows (its first line is printed after it subscribed).
  ASSERT_OK_AND_ASSIGN(
      json subscribed,
      WaitForJson(
          client(), "/healthz", [](const json& h) { return h["events"]["subscribers"] == 1; },
          seconds(30), "the watcher to subscribe"));
  ASSERT_OK_AND_ASSIGN(
      json canceled, PostJson(client(), "/api/v1/batches/" + id + "/cancel", json::object(), 200));
  CliResult r = watch.get();
  EXPECT_EQ(r.exit_code, kCanceled) << r.Describe();
  EXPECT_NE(Lines(r.out).back().find(" canceled: 10 sessions, 0 completed, 0 errors, 10 canceled"),
            std::string::npos)
      << r.out;
}

TEST_F(CliTest, WatchOnATerminalRedrawsOneBar) {
  ASSERT_NO_FATAL_FAILURE(Start({"--slots", "2"}));
  json batch = SleepBatch("tty", 12, 50);
  batch["max_running"] = 2;
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/script")) << "util-linux's script(1) gives a pty";
  // script(1) runs the command on a pseudo-terminal and returns its exit code (-e).
  const std::string command = std::string(BATCHD_BINARY) + " watch " + id + " --server " + Url();
  Result<CliResult> run = RunCli("/usr/bin/script", {"-qec", command, "/dev/null"});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->exit_code, kOk) << run->Describe();
  EXPECT_NE(run->out.find("\r\x1b[K" + id + " running ["), std::string::npos)
      << "the bar is redrawn in place: " << run->out;
  EXPECT_NE(run->out.find("] 100.0% 12/12"), std::string::npos) << run->out;
  EXPECT_NE(run->out.find("batch " + id + " (tty) completed: 12 sessions"), std::string::npos);
  EXPECT_EQ(run->out.find(" in_progress="), std::string::npos) << "no plain lines on a terminal";
}

TEST_F(CliTest, WatchReconnectsAcrossADaemonRestartWithoutLosingCounts) {
  const uint16_t port = FreePort();
  const std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(port), "--slots",
                                         "1"};
  ASSERT_NO_FATAL_FAILURE(Start(args));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("survivor", 12, 200)));
  std::future<CliResult> watch = std::async(std::launch::async, [&] { return Cli({"watch", id}); });
  ASSERT_OK_AND_ASSIGN(
      json some, WaitForBatch(
                     client(), id, [](const json& b) { return b["counts"]["completed"] >= 3; },
                     seconds(30), "a few sessions to complete"));
  ASSERT_NO_FATAL_FAILURE(RestartDaemon(args));
  ASSERT_EQ(daemon().port(), port);
  CliResult r = watch.get();
  EXPECT_EQ(r.exit_code, kOk) << r.Describe();
  EXPECT_NE(r.out.find("reconnecting)"), std::string::npos) << r.out;
  int64_t done_before = -1;
  for (const std::string& line : Lines(r.out)) {
    std::smatch m;
    if (!std::regex_match(line, m, kPlainLine)) continue;
    EXPECT_GE(std::stoll(m[3]), done_before) << "no count lost or undone: " << line;
    done_before = std::stoll(m[3]);
  }
  EXPECT_NE(Lines(r.out).back().find("completed: 12 sessions, 12 completed"), std::string::npos)
      << r.out;
}

TEST_F(CliTest, LsShowAndTheLifecycleCommands) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());  // sessions stay queued while we look
  const std::string file = WriteFile("three.json", SleepBatch("three", 3, 1));
  CliResult submitted = Cli({"submit", file});
  ASSERT_EQ(submitted.exit_code, kOk) << submitted.Describe();
  const std::string id = Lines(submitted.out).at(0);

  CliResult ls = Cli({"ls"});
  ASSERT_EQ(ls.exit_code, kOk) << ls.Describe();
  ASSERT_GE(Lines(ls.out).size(), 2u);
  EXPECT_TRUE(Lines(ls.out)[0].starts_with("ID ")) << ls.out;
  EXPECT_NE(ls.out.find(id + "  queued"), std::string::npos) << ls.out;
  CliResult ls_json = Cli({"ls", "--json", "--state", "queued"});
  ASSERT_EQ(ls_json.exit_code, kOk);
  EXPECT_EQ(json::parse(ls_json.out)["items"][0]["id"], id);
  CliResult ls_none = Cli({"ls", "--state", "failed"});
  EXPECT_EQ(Lines(ls_none.out).size(), 1u) << "only the header: " << ls_none.out;

  CliResult show = Cli({"show", id});
  ASSERT_EQ(show.exit_code, kOk) << show.Describe();
  EXPECT_NE(show.out.find("state     queued"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("sessions  0/3 done"), std::string::npos) << show.out;

  for (const auto& [command, state] :
       std::vector<std::pair<std::string, std::string>>{{"pause", "paused"},
                                                        {"resume", "queued"},
                                                        {"cancel", "canceled"},
                                                        {"retry", "queued"}}) {
    CliResult r = Cli({command, id});
    EXPECT_EQ(r.exit_code, kOk) << command << ": " << r.Describe();
    EXPECT_TRUE(r.out.starts_with(id + " " + state + " (")) << command << ": " << r.out;
  }
  ASSERT_OK_AND_ASSIGN(json after, GetJson(client(), "/api/v1/batches/" + id));
  EXPECT_EQ(after["counts"]["uninitialized"], 3) << "retry put the canceled sessions back";

  // A refused change: exit 4, in words.
  ASSERT_EQ(Cli({"cancel", id}).exit_code, kOk);
  CliResult refused = Cli({"pause", id});
  EXPECT_EQ(refused.exit_code, kRefused) << refused.Describe();
  EXPECT_NE(refused.err.find("conflict: batch " + id + " is already canceled (HTTP 409)"),
            std::string::npos)
      << refused.err;

  // show lists the first errors in plain words.
  ASSERT_OK_AND_ASSIGN(json resumed,
                       PostJson(client(), "/api/v1/queue/resume", json::object(), 200));
  ASSERT_OK_AND_ASSIGN(
      std::string failing,
      SubmitBatch(client(), FailBatch("f", 2, "permanent", std::nullopt, "no disk")));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), failing, "failed", seconds(30)));
  CliResult show_failed = Cli({"show", failing});
  EXPECT_NE(show_failed.out.find("errors:\n  session "), std::string::npos) << show_failed.out;
  EXPECT_NE(show_failed.out.find("(attempt 1) permanent: no disk"), std::string::npos)
      << show_failed.out;
}

TEST_F(CliTest, EveryMistakeHasItsExitCodeAndItsWords) {
  ASSERT_NO_FATAL_FAILURE(Start());
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  const std::string bad_batch = WriteFile(
      "bad.json",
      json::parse(R"({"template": {"x": 1}, "data": [[{"field": "/y", "items": [1]}]]})"));
  for (const Case& c : std::vector<Case>{
           {{"watch", "0123456789abcdef"}, kRefused, "not_found"},
           {{"show", "0123456789abcdef"}, kRefused, "not_found: no batch with id 0123456789abcdef"},
           {{"cancel", "nope"}, kRefused, "(HTTP 404)"},
           {{"submit", bad_batch}, kRefused, "invalid_batch at /data/0/0/field"},
           {{"submit", "/no/such/file.json"}, kUsage, "cannot read /no/such/file.json"},
           {{"watch"}, kUsage, "expected 1 argument, got 0"},
           {{"ls", "--bogus"}, kUsage, "unknown option '--bogus'"},
           {{"ls", "--limit", "0"}, kRefused, "invalid_query at ?limit"},
       }) {
    CliResult r = Cli(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.Describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos)
        << "expected '" << c.says << "' in " << r.Describe();
  }

  // Where the daemon is: --server wins over BATCHD_URL, which wins over the default.
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(FreePort());
  CliResult unreachable = Cli({"ls", "--server", nowhere}, {}, false);
  EXPECT_EQ(unreachable.exit_code, kUnreachable) << unreachable.Describe();
  EXPECT_NE(unreachable.err.find("cannot reach batchd at " + nowhere), std::string::npos);
  CliResult from_env = Cli({"ls"}, {.env = {{"BATCHD_URL", Url()}}}, false);
  EXPECT_EQ(from_env.exit_code, kOk) << from_env.Describe();
  CliResult flag_wins = Cli({"ls", "--server", Url()}, {.env = {{"BATCHD_URL", nowhere}}}, false);
  EXPECT_EQ(flag_wins.exit_code, kOk) << flag_wins.Describe();
  CliResult bad_url = Cli({"ls", "--server", "localhost:8080"}, {}, false);
  EXPECT_EQ(bad_url.exit_code, kUsage);
  EXPECT_NE(bad_url.err.find("must look like http://HOST:PORT"), std::string::npos);

  // Submitting from stdin.
  CliResult piped = Cli({"submit", "-"}, {.stdin_text = SleepBatch("piped", 1, 1).dump()});
  EXPECT_EQ(piped.exit_code, kOk) << piped.Describe();

  // The help lists the commands and the exit codes.
  CliResult help = Cli({"--help"}, {}, false);
  EXPECT_EQ(help.exit_code, kOk);
  for (const char* word :
       {"submit FILE [--watch]", "watch ID", "ls", "show ID", "cancel ID", "pause ID", "resume ID",
        "retry ID", "BATCHD_URL", "BATCHD_TOKEN", "exit codes"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word << "\n" << help.out;
  }
}

// A daemon with a token file: the CLI sends --token or BATCHD_TOKEN on every request and on the
// event stream, and a refusal says what is missing without printing any token.
TEST_F(CliTest, ATokenFromTheFlagOrTheEnvironmentIsSentAndRefusalsSayWhy) {
  const std::filesystem::path tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(Start({"--token-file", tokens.string(), "--slots", "2"}));

  CliResult anonymous = Cli({"ls"});
  EXPECT_EQ(anonymous.exit_code, kRefused) << anonymous.Describe();
  EXPECT_NE(anonymous.err.find("unauthorized"), std::string::npos) << anonymous.err;
  EXPECT_NE(anonymous.err.find("HTTP 401"), std::string::npos) << anonymous.err;
  EXPECT_NE(anonymous.err.find("--token or BATCHD_TOKEN"), std::string::npos) << anonymous.err;

  // submit --watch reads REST and the event stream with the token.
  const std::string file = WriteFile("authed.json", SleepBatch("authed", 3, 10));
  CliResult submitted = Cli({"submit", file, "--watch"}, {.env = {{"BATCHD_TOKEN", kAdminToken}}});
  ASSERT_EQ(submitted.exit_code, kOk) << submitted.Describe();
  const std::string id = Lines(submitted.out).at(0);

  CliResult listed = Cli({"ls"}, {.env = {{"BATCHD_TOKEN", kReadToken}}});
  EXPECT_EQ(listed.exit_code, kOk) << listed.Describe();
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.Describe();
  CliResult watched = Cli({"watch", id}, {.env = {{"BATCHD_TOKEN", kReadToken}}});
  EXPECT_EQ(watched.exit_code, kOk) << watched.Describe();

  CliResult refused = Cli({"--token", kReadToken, "retry", id});
  EXPECT_EQ(refused.exit_code, kRefused) << refused.Describe();
  EXPECT_NE(refused.err.find("HTTP 403"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("admin token"), std::string::npos) << refused.err;

  // The flag wins over the variable.
  CliResult retried =
      Cli({"--token=" + kAdminToken, "retry", id}, {.env = {{"BATCHD_TOKEN", kReadToken}}});
  EXPECT_EQ(retried.exit_code, kOk) << retried.Describe();

  CliResult wrong = Cli({"watch", id}, {.env = {{"BATCHD_TOKEN", "not-the-token-0123456789"}}});
  EXPECT_EQ(wrong.exit_code, kRefused) << wrong.Describe();
  EXPECT_NE(wrong.err.find("401"), std::string::npos) << wrong.err;

  for (const CliResult* r :
       {&anonymous, &submitted, &listed, &watched, &refused, &retried, &wrong}) {
    EXPECT_EQ(r->out.find(kAdminToken), std::string::npos) << r->Describe();
    EXPECT_EQ(r->err.find(kAdminToken), std::string::npos) << r->Describe();
    EXPECT_EQ(r->err.find(kReadToken), std::string::npos) << r->Describe();
  }
}

}  // namespace
}  // namespace batchd::testing

namespace batchd::testing {
namespace {

class NodesCliTest : public CliTest {};

TEST_F(NodesCliTest, TheEmbeddedStoreListsThisDaemonAsItsOneNode) {
  ASSERT_NO_FATAL_FAILURE(Start({"--slots", "3", "--node-name", "solo"}));
  CliResult table = Cli({"nodes"});
  ASSERT_EQ(table.exit_code, kOk) << table.Describe();
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 2u) << table.out;
  EXPECT_TRUE(lines[0].starts_with("ID ")) << table.out;
  EXPECT_NE(lines[1].find("alive"), std::string::npos) << table.out;
  EXPECT_NE(lines[1].find("solo"), std::string::npos) << table.out;
  CliResult as_json = Cli({"nodes", "--json"});
  ASSERT_EQ(as_json.exit_code, kOk) << as_json.Describe();
  json nodes = json::parse(as_json.out);
  ASSERT_EQ(nodes["items"].size(), 1u);
  EXPECT_EQ(nodes["items"][0]["name"], "solo");
  EXPECT_EQ(nodes["items"][0]["slots"], 3);
  EXPECT_EQ(nodes["items"][0]["state"], "alive");
  EXPECT_EQ(nodes["items"][0]["running"], 0);
  CliResult bad = Cli({"nodes", "--wide"});
  EXPECT_EQ(bad.exit_code, kUsage) << bad.Describe();
  EXPECT_NE(bad.err.find("--wide"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace batchd::testing
