// Session logs of the `command` op (docs/command.md "Logs", docs/api.md "Session logs"): the
// capped head-and-tail file of a program printing 50 MiB, GET /api/v1/sessions/{id}/log and
// `batchd logs -f` following a program while it runs, the refusals, and the logs going with
// their batch.
//
// A following test sees the first line of a program that then waits for a file the test
// creates only afterwards: what it sees came while the program ran, whatever the machine's
// speed. Waits are hang guards (minutes), never bounds on how fast anything is.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/child_process.h"
#include "tests/support/cli_runner.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kGuard = seconds(180);

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Prints a line to each stream, waits for the file named by its argument, prints another.
constexpr const char* kWaitingProgram =
    "import os, sys, time\n"
    "print('first line', flush=True)\n"
    "print('first error', file=sys.stderr, flush=True)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.02)\n"
    "print('second line', flush=True)\n";

json Python(const std::string& code, json extra_args = json::array()) {
  json argv = {"python3", "-c", code};
  for (const json& a : extra_args) argv.push_back(a);
  return {{"op", "command"}, {"argv", argv}};
}

// One answer of the log endpoint.
struct LogAnswer {
  int status = 0;
  std::string body;
  uint64_t offset = 0;
  uint64_t next = 0;
  uint64_t size = 0;
  bool finished = false;
  bool complete = false;
  bool restarted = false;
  json error;  // the error body's "error" object, for a refusal
};

Result<LogAnswer> GetLog(HttpClient& client, const std::string& target) {
  ASSIGN_OR_RETURN(HttpResponse r, client.Get(target));
  LogAnswer a;
  a.status = r.status;
  a.body = r.body;
  if (r.status != 200) {
    const json body = r.Json();
    if (!body.is_discarded() && body.contains("error")) a.error = body["error"];
    return a;
  }
  auto number = [&](const std::string& name) -> Result<uint64_t> {
    const auto it = r.headers.find(name);
    if (it == r.headers.end()) return Status::Internal("no " + name + " header: " + r.Describe());
    return std::stoull(it->second);
  };
  ASSIGN_OR_RETURN(a.offset, number("batchd-log-offset"));
  ASSIGN_OR_RETURN(a.next, number("batchd-log-next-offset"));
  ASSIGN_OR_RETURN(a.size, number("batchd-log-size"));
  a.finished = r.headers["batchd-log-finished"] == "true";
  a.complete = r.headers["batchd-log-complete"] == "true";
  a.restarted = r.headers["batchd-log-restarted"] == "true";
  if (r.headers["content-type"] != "application/octet-stream") {
    return Status::Internal("not application/octet-stream: " + r.Describe());
  }
  return a;
}

std::string LogTarget(int64_t session, const std::string& query) {
  return "/api/v1/sessions/" + std::to_string(session) + "/log" +
         (query.empty() ? "" : "?" + query);
}

class CommandLogTest : public DaemonTest {
 protected:
  // A follow waits far longer than any step here takes: it can only end with bytes, or at
  // the end of the session, not because the machine was slow.
  void StartAllowing(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--allow-command",
                                     "/usr/bin/python3",
                                     "--retry-backoff-ms",
                                     "0",
                                     "--log-follow-wait-ms",
                                     "600000",
                                     "--slots",
                                     "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_NO_FATAL_FAILURE(StartDaemon(args));
  }

  std::string Url() { return "http://127.0.0.1:" + std::to_string(daemon().port()); }

  std::filesystem::path Scratch(const std::string& name) {
    std::filesystem::path p = data_dir() / "scratch";
    std::filesystem::create_directories(p);
    return p / name;
  }

  // Submits a one-session batch of `job`; the batch's id and its session's.
  void SubmitOne(const json& job, std::string* batch, int64_t* session) {
    ASSERT_OK_AND_ASSIGN(*batch, SubmitBatch(client(), {{"template", job}, {"max_attempts", 1}}));
    ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), *batch));
    ASSERT_EQ(ids.size(), 1u);
    *session = ids[0];
  }

  // Follows the log from `offset` (follow=1, each answer waiting for bytes) until `text` is
  // among what was read; what was read, and the last answer.
  void FollowUntil(int64_t session, const std::string& stream, uint64_t* offset,
                   const std::string& text, std::string* read, LogAnswer* last) {
    const auto give_up = std::chrono::steady_clock::now() + kGuard;
    while (read->find(text) == std::string::npos) {
      ASSERT_LT(std::chrono::steady_clock::now(), give_up)
          << "never saw '" << text << "' in " << *read;
      ASSERT_OK_AND_ASSIGN(
          *last, GetLog(client(), LogTarget(session, "stream=" + stream + "&follow=1&offset=" +
                                                         std::to_string(*offset))));
      ASSERT_EQ(last->status, 200) << last->body;
      ASSERT_EQ(last->offset, *offset);
      *read += last->body;
      *offset = last->next;
    }
  }

  void WaitForFollowers(int64_t n) {
    ASSERT_OK(WaitForJson(
                  client(), "/healthz",
                  [n](const json& h) { return h.value("log_follows_waiting", 0) >= n; }, kGuard,
                  "a waiting log follow")
                  .status());
  }
};

// Acceptance 3: a program printing 50 MiB; its stdout file keeps its head and its tail within
// the cap, with the line saying how much was left out, and the endpoint serves that file.
TEST_F(CommandLogTest, FiftyMebibytesKeepHeadAndTailWithinTheCap) {
  constexpr uint64_t kCap = 1 << 20;  // both files; stdout keeps 256 KiB of head and of tail
  ASSERT_NO_FATAL_FAILURE(StartAllowing({"--log-bytes-per-session", std::to_string(kCap)}));
  const json job = Python(
      "import sys\n"
      "w = sys.stdout.buffer.write\n"
      "w(b'first line\\n')\n"
      "block = (b'.' * 1023 + b'\\n') * 1024\n"
      "for i in range(50): w(block)\n"
      "w(b'last line\\n')\n");
  std::string batch;
  int64_t session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(job, &batch, &session));
  ASSERT_OK_AND_ASSIGN(json done, WaitForSessionState(client(), session, "completed", kGuard));

  const uint64_t printed = 11 + (50ull << 20) + 10;
  const std::filesystem::path file =
      data_dir() / "command" / "logs" / batch / (std::to_string(session) + ".stdout");
  const std::string text = ReadFile(file);
  const std::string marker =
      "\n[batchd: " + std::to_string(printed - kCap / 2) + " bytes left out]\n";
  EXPECT_EQ(std::filesystem::file_size(file), kCap / 2 + marker.size());
  EXPECT_TRUE(text.starts_with("first line\n")) << text.substr(0, 64);
  EXPECT_TRUE(text.ends_with("\nlast line\n")) << text.substr(text.size() - 64);
  EXPECT_EQ(text.find(marker), kCap / 4) << "the marker sits right after the head";

  // The endpoint gives the same bytes, in slices of at most max_bytes, then says complete.
  std::string served;
  uint64_t offset = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK_AND_ASSIGN(
        LogAnswer a,
        GetLog(client(), LogTarget(session, "max_bytes=100000&offset=" + std::to_string(offset))));
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_LE(a.body.size(), 100000u);
    EXPECT_TRUE(a.finished);
    served += a.body;
    offset = a.next;
    if (a.complete) break;
  }
  EXPECT_EQ(served.size(), text.size());
  EXPECT_TRUE(served == text) << "the served log differs from its file";
}

// Acceptance 3: GET .../log?follow=1 follows a running program. The first line is seen while
// the program waits for a file the test has not created; the next follow waits (the daemon
// counts it) until the program writes again, and the log ends complete.
TEST_F(CommandLogTest, RestFollowSeesARunningProgramsOutput) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  const std::filesystem::path go = Scratch("go");
  std::string batch;
  int64_t session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python(kWaitingProgram, {go.string()}), &batch, &session));

  std::string read;
  uint64_t offset = 0;
  LogAnswer last;
  ASSERT_NO_FATAL_FAILURE(FollowUntil(session, "stdout", &offset, "first line\n", &read, &last));
  EXPECT_EQ(read, "first line\n");
  EXPECT_FALSE(last.finished);  // the program waits for `go`
  EXPECT_FALSE(last.complete);

  // A follow past the end waits for bytes; the file that lets the program go on is created
  // only once the daemon holds that follow.
  auto waiting = std::async(std::launch::async, [&] {
    HttpClient own(daemon().port(), std::chrono::duration_cast<milliseconds>(kGuard));
    return GetLog(own, LogTarget(session, "follow=1&offset=" + std::to_string(offset)));
  });
  ASSERT_NO_FATAL_FAILURE(WaitForFollowers(1));
  std::ofstream(go) << "go";
  ASSERT_OK_AND_ASSIGN(LogAnswer woken, waiting.get());
  ASSERT_EQ(woken.status, 200) << woken.body;
  EXPECT_EQ(woken.offset, offset);
  EXPECT_EQ(woken.body, "second line\n");
  read += woken.body;
  offset = woken.next;

  // To the end: the last answer says the log is complete.
  while (!last.complete) {
    ASSERT_OK_AND_ASSIGN(
        last, GetLog(client(), LogTarget(session, "follow=1&offset=" + std::to_string(offset))));
    ASSERT_EQ(last.status, 200) << last.body;
    read += last.body;
    offset = last.next;
  }
  EXPECT_TRUE(last.finished);
  EXPECT_EQ(read, "first line\nsecond line\n");
  EXPECT_EQ(last.size, read.size());

  ASSERT_OK_AND_ASSIGN(LogAnswer err, GetLog(client(), LogTarget(session, "stream=stderr")));
  ASSERT_EQ(err.status, 200);
  EXPECT_EQ(err.body, "first error\n");
  EXPECT_TRUE(err.complete);
}

// Acceptance 3: `batchd logs -f` prints a running program's output as it comes and exits 0
// once the session has ended; without -f it prints what there is and exits.
TEST_F(CommandLogTest, CliLogsFollowSeesARunningProgramsOutput) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  const std::filesystem::path go = Scratch("go");
  std::string batch;
  int64_t session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python(kWaitingProgram, {go.string()}), &batch, &session));

  const std::string out_path = Scratch("logs-f.out").string();
  ASSERT_OK_AND_ASSIGN(pid_t pid, SpawnChild({BATCHD_BINARY, "logs", std::to_string(session), "-f",
                                              "--server", Url()},
                                             out_path));
  struct Reap {  // on every way out: nothing of the test outlives it
    pid_t& pid;
    ~Reap() { (void)StopChild(pid, milliseconds(5000), "batchd logs -f"); }
  } reap{pid};

  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (ReadFile(out_path).find("first line\n") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << ReadFile(out_path);
    std::this_thread::sleep_for(milliseconds(20));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "batchd logs -f ended while the program ran";

  std::ofstream(go) << "go";
  pid_t ended = 0;
  while ((ended = ::waitpid(pid, &status, WNOHANG)) == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << ReadFile(out_path);
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(ended, pid);
  pid = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(out_path);
  EXPECT_EQ(ReadFile(out_path), "first line\nsecond line\n");

  ASSERT_OK_AND_ASSIGN(CliResult err,
                       RunCli(BATCHD_BINARY, {"logs", std::to_string(session), "--stream", "stderr",
                                              "--server", Url()}));
  EXPECT_EQ(err.exit_code, 0) << err.Describe();
  EXPECT_EQ(err.out, "first error\n");
}

// Every way to ask wrongly gets a clear answer naming what was wrong; a session of another op
// has no log (404 no_log), and the CLI says so with its refusal exit code.
TEST_F(CommandLogTest, BadLogRequestsAreRefusedNamingTheField) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  std::string batch;
  int64_t session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python("print('hello')"), &batch, &session));
  ASSERT_OK(WaitForSessionState(client(), session, "completed", kGuard).status());

  ASSERT_OK_AND_ASSIGN(LogAnswer unknown, GetLog(client(), "/api/v1/sessions/999999/log"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.error["code"], "not_found") << unknown.body;
  ASSERT_OK_AND_ASSIGN(LogAnswer not_an_id, GetLog(client(), "/api/v1/sessions/x1/log"));
  EXPECT_EQ(not_an_id.status, 404);

  const std::vector<std::pair<std::string, std::string>> bad = {{"stream=stdin", "?stream"},
                                                                {"offset=-1", "?offset"},
                                                                {"offset=1x", "?offset"},
                                                                {"offset=", "?offset"},
                                                                {"offset=7", "?offset"},
                                                                {"max_bytes=0", "?max_bytes"},
                                                                {"max_bytes=1048577", "?max_bytes"},
                                                                {"follow=yes", "?follow"},
                                                                {"follow=1&wait_ms=0", "?wait_ms"},
                                                                {"offset=1&offset=2", "?offset"}};
  for (const auto& [query, path] : bad) {
    ASSERT_OK_AND_ASSIGN(LogAnswer a, GetLog(client(), LogTarget(session, query)));
    EXPECT_EQ(a.status, 400) << query << ": " << a.body;
    EXPECT_EQ(a.error["code"], "invalid_query") << query << ": " << a.body;
    EXPECT_EQ(a.error["path"], path) << query << ": " << a.body;
  }
  ASSERT_OK_AND_ASSIGN(LogAnswer past, GetLog(client(), LogTarget(session, "offset=7")));
  EXPECT_NE(past.error["message"].get<std::string>().find("past the end of the log (6 bytes)"),
            std::string::npos)
      << past.body;

  // At the end: nothing more, and complete; a slice: part of it, not complete.
  ASSERT_OK_AND_ASSIGN(LogAnswer end, GetLog(client(), LogTarget(session, "offset=6&follow=1")));
  EXPECT_EQ(end.status, 200);
  EXPECT_EQ(end.body, "");
  EXPECT_TRUE(end.complete);
  ASSERT_OK_AND_ASSIGN(LogAnswer part, GetLog(client(), LogTarget(session, "max_bytes=2")));
  EXPECT_EQ(part.body, "he");
  EXPECT_EQ(part.next, 2u);
  EXPECT_TRUE(part.finished);
  EXPECT_FALSE(part.complete);

  // A session of another op keeps no log.
  ASSERT_OK_AND_ASSIGN(std::string noop, SubmitBatch(client(), SimpleBatch("noop", 1)));
  ASSERT_OK(WaitForBatchState(client(), noop, "completed", kGuard).status());
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> noop_ids, SessionIdsOf(client(), noop));
  ASSERT_OK_AND_ASSIGN(LogAnswer none, GetLog(client(), LogTarget(noop_ids.at(0), "follow=1")));
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.error["code"], "no_log") << none.body;
  EXPECT_NE(none.body.find("noop op"), std::string::npos) << none.body;

  // The CLI: the daemon's refusal, and its own.
  ASSERT_OK_AND_ASSIGN(CliResult missing,
                       RunCli(BATCHD_BINARY, {"logs", "999999", "--server", Url()}));
  EXPECT_EQ(missing.exit_code, 4) << missing.Describe();
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.Describe();
  ASSERT_OK_AND_ASSIGN(CliResult no_log, RunCli(BATCHD_BINARY, {"logs", std::to_string(noop_ids[0]),
                                                                "--server", Url()}));
  EXPECT_EQ(no_log.exit_code, 4) << no_log.Describe();
  EXPECT_NE(no_log.err.find("no_log"), std::string::npos) << no_log.Describe();
  ASSERT_OK_AND_ASSIGN(CliResult bare, RunCli(BATCHD_BINARY, {"logs", "--server", Url()}));
  EXPECT_EQ(bare.exit_code, 2) << bare.Describe();
  ASSERT_OK_AND_ASSIGN(CliResult stream,
                       RunCli(BATCHD_BINARY, {"logs", std::to_string(session), "--stream", "stdin",
                                              "--server", Url()}));
  EXPECT_EQ(stream.exit_code, 2) << stream.Describe();
  EXPECT_NE(stream.err.find("--stream"), std::string::npos) << stream.Describe();
}

// DELETE /api/v1/batches/{id} removes its sessions' logs; other batches' stay.
TEST_F(CommandLogTest, LogsAreDeletedWithTheirBatch) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  std::string doomed, kept;
  int64_t doomed_session = 0, kept_session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python("print('doomed')"), &doomed, &doomed_session));
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python("print('kept')"), &kept, &kept_session));
  ASSERT_OK(WaitForSessionState(client(), doomed_session, "completed", kGuard).status());
  ASSERT_OK(WaitForSessionState(client(), kept_session, "completed", kGuard).status());
  const std::filesystem::path logs = data_dir() / "command" / "logs";
  const std::filesystem::path doomed_log =
      logs / doomed / (std::to_string(doomed_session) + ".stdout");
  const std::filesystem::path kept_log = logs / kept / (std::to_string(kept_session) + ".stdout");
  ASSERT_EQ(ReadFile(doomed_log), "doomed\n");

  ASSERT_OK_AND_ASSIGN(HttpResponse deleted,
                       client().Request("DELETE", "/api/v1/batches/" + doomed, "", {}));
  ASSERT_EQ(deleted.status, 200) << deleted.Describe();
  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (std::filesystem::exists(logs / doomed)) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << (logs / doomed) << " is still there";
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(ReadFile(kept_log), "kept\n");
  ASSERT_OK_AND_ASSIGN(LogAnswer gone, GetLog(client(), LogTarget(doomed_session, "")));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.error["code"], "not_found") << gone.body;
}

// A daemon that died between deleting a batch and removing its logs leaves them behind; the
// next start removes the directories of batches the store does not have, and only those.
TEST_F(CommandLogTest, LogsOfBatchesDeletedBeforeARestartAreRemovedAtStart) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  std::string kept;
  int64_t kept_session = 0;
  ASSERT_NO_FATAL_FAILURE(SubmitOne(Python("print('kept')"), &kept, &kept_session));
  ASSERT_OK(WaitForSessionState(client(), kept_session, "completed", kGuard).status());
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());

  const std::filesystem::path logs = data_dir() / "command" / "logs";
  const std::filesystem::path left = logs / "00000000000000aa";  // no such batch
  std::filesystem::create_directories(left);
  std::ofstream(left / "5.stdout") << "left behind\n";
  ASSERT_NO_FATAL_FAILURE(StartAllowing());

  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (std::filesystem::exists(left)) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << left << " is still there";
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(ReadFile(logs / kept / (std::to_string(kept_session) + ".stdout")), "kept\n");
  ASSERT_OK_AND_ASSIGN(LogAnswer a, GetLog(client(), LogTarget(kept_session, "")));
  EXPECT_EQ(a.body, "kept\n");
  EXPECT_TRUE(a.complete);
}

}  // namespace
}  // namespace batchd::testing
