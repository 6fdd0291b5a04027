// The `command` op, per session (docs/command.md), through a real daemon with real programs
// (/usr/bin/python3 and /bin/sh): substitution into argv and env, exit codes to states, retried
// transient exits, timeouts, cancel of a whole process tree, BATCHD_RESULT_FILE, the refusals
// at submit, and kill -9 of the daemon while programs run.
//
// Waits are hang guards (a minute or more), never bounds on how fast anything is.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kGuard = seconds(120);

// Alive: it exists and is not a zombie (an orphan killed a moment ago may wait for init to
// reap it; it runs nothing).
bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  const size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

bool GoneWithinGuard(pid_t pid) {
  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (Alive(pid) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  return !Alive(pid);
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits until `p` holds at least `lines` complete lines; its lines then.
std::vector<std::string> WaitForLines(const std::filesystem::path& p, size_t lines) {
  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  for (;;) {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(p));
    std::string line;
    const std::string text = in.str();
    while (std::getline(in, line)) out.push_back(line);
    if (!text.empty() && text.back() != '\n' && !out.empty()) out.pop_back();  // partial
    if (out.size() >= lines || std::chrono::steady_clock::now() > give_up) return out;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

json Python(const std::string& code, json extra_args = json::array()) {
  json argv = {"python3", "-c", code};
  for (const json& a : extra_args) argv.push_back(a);
  return {{"op", "command"}, {"argv", argv}};
}

class CommandOpTest : public DaemonTest {
 protected:
  // A daemon that may run /usr/bin/python3 and /bin/sh, retrying at once.
  void StartAllowing(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--allow-command",
                                     "/usr/bin/python3",
                                     "--allow-command",
                                     "/bin/sh",
                                     "--retry-backoff-ms",
                                     "0",
                                     "--slots",
                                     "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_NO_FATAL_FAILURE(StartDaemon(args));
  }

  // Runs a one-session batch to its end; the session.
  json RunOne(const json& job, int64_t max_attempts = 1) {
    const json batch = {{"template", job}, {"max_attempts", max_attempts}};
    Result<json> session = RunSingleSessionBatch(client(), batch, kGuard);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    return session.ok() ? *session : json();
  }

  std::filesystem::path Scratch(const std::string& name) {
    std::filesystem::path p = data_dir() / "scratch";
    std::filesystem::create_directories(p);
    return p / name;
  }
};

// What every program below reports: its arguments, a variable and where it stands.
constexpr const char* kReportProgram =
    "import json, os, sys\n"
    "keys = ['K', 'BATCHD_SESSION_ID', 'BATCHD_BATCH_ID', 'BATCHD_RUN', 'BATCHD_INDEX']\n"
    "with open(os.environ['BATCHD_RESULT_FILE'], 'w') as f:\n"
    "    json.dump({'argv': sys.argv[1:], 'env': {k: os.environ.get(k) for k in keys}}, f)\n";

TEST_F(CommandOpTest, DataIsSubstitutedIntoArgvAndEnvAndTheResultFileBecomesTheResult) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  json job = Python(kReportProgram, {"--lr", 0});
  job["env"] = {{"K", "placeholder"}};
  const json batch = {{"template", job},
                      {"runs", 2},
                      {"data",
                       {{{{"field", "/argv/4"}, {"items", {0.1, "x y"}}},
                         {{"field", "/env/K"}, {"items", {7, "v"}}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kGuard));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_EQ(sessions.size(), 4u);
  std::set<std::string> seen;
  for (int64_t sid : sessions) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    ASSERT_EQ(s["state"], "completed") << s.dump();
    const json& r = s["result"];
    const int64_t item = s["index"][0].get<int64_t>();
    // Numbers become their JSON text; strings pass unchanged, spaces and all (no shell).
    EXPECT_EQ(r["argv"], json({"--lr", item == 0 ? "0.1" : "x y"})) << r.dump();
    EXPECT_EQ(r["env"]["K"], item == 0 ? "7" : "v");
    EXPECT_EQ(r["env"]["BATCHD_SESSION_ID"], std::to_string(sid));
    EXPECT_EQ(r["env"]["BATCHD_BATCH_ID"], id);
    EXPECT_EQ(r["env"]["BATCHD_RUN"], std::to_string(s["run"].get<int64_t>()));
    EXPECT_EQ(json::parse(r["env"]["BATCHD_INDEX"].get<std::string>()), s["index"]);
    seen.insert(r["env"]["BATCHD_RUN"].get<std::string>() +
                r["env"]["BATCHD_INDEX"].get<std::string>());
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0[0]", "0[1]", "1[0]", "1[1]"}));
}

TEST_F(CommandOpTest, ExitCodesBecomeStatesAndTheErrorQuotesStderr) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  json ok = RunOne(Python("print('fine')"));
  EXPECT_EQ(ok["state"], "completed") << ok.dump();
  EXPECT_TRUE(ok["result"].is_null());

  json failed = RunOne(
      Python("import sys\nfor i in range(30): print('line', i, file=sys.stderr)\nsys.exit(3)"));
  ASSERT_EQ(failed["state"], "error") << failed.dump();
  EXPECT_EQ(failed["attempts"], 1);
  EXPECT_EQ(failed["error"]["kind"], "permanent");
  const std::string message = failed["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("exited with code 3"), std::string::npos) << message;
  EXPECT_NE(message.find("line 29"), std::string::npos) << message;   // the last lines
  EXPECT_EQ(message.find("line 0\n"), std::string::npos) << message;  // not all of them

  json killed = RunOne(Python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"));
  ASSERT_EQ(killed["state"], "error") << killed.dump();
  EXPECT_NE(killed["error"]["message"].get<std::string>().find("killed by signal 9"),
            std::string::npos)
      << killed.dump();

  // stdout and stderr were kept in the session's log files.
  const std::filesystem::path logs = data_dir() / "command" / "logs";
  auto log_of = [&](const json& s, const std::string& stream) {
    return logs / s["batch_id"].get<std::string>() /
           (std::to_string(s["id"].get<int64_t>()) + "." + stream);
  };
  EXPECT_EQ(ReadFile(log_of(ok, "stdout")), "fine\n");
  EXPECT_NE(ReadFile(log_of(failed, "stderr")).find("line 0\nline 1\n"), std::string::npos);
}

TEST_F(CommandOpTest, BadResultFilesFailTheSessionNamingTheFile) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  json not_json =
      RunOne(Python("import os\nopen(os.environ['BATCHD_RESULT_FILE'], 'w').write('{not json')"));
  ASSERT_EQ(not_json["state"], "error") << not_json.dump();
  EXPECT_NE(not_json["error"]["message"].get<std::string>().find("BATCHD_RESULT_FILE"),
            std::string::npos);
  json too_big = RunOne(
      Python("import os\nopen(os.environ['BATCHD_RESULT_FILE'], 'w').write('\"' + 'x' * 2000000 + "
             "'\"')"));
  ASSERT_EQ(too_big["state"], "error") << too_big.dump();
  EXPECT_NE(too_big["error"]["message"].get<std::string>().find("at most 1048576"),
            std::string::npos)
      << too_big["error"].dump();
}

TEST_F(CommandOpTest, TransientExitCodesAreRetriedUnderMaxAttempts) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  // Exits 75 (EX_TEMPFAIL) on its first two attempts, then succeeds, counting its runs in a file.
  const std::filesystem::path runs = Scratch("runs");
  const std::string program =
      "import os, sys\n"
      "with open(sys.argv[1], 'a') as f: f.write(os.environ['BATCHD_ATTEMPT'] + '\\n')\n"
      "sys.exit(75 if int(os.environ['BATCHD_ATTEMPT']) < 3 else 0)\n";
  json retried = RunOne(Python(program, {runs.string()}), 5);
  EXPECT_EQ(retried["state"], "completed") << retried.dump();
  EXPECT_EQ(retried["attempts"], 3);
  EXPECT_EQ(ReadFile(runs), "1\n2\n3\n");

  // Always 42, listed as transient: retried until max_attempts, then an error that says so.
  json job = Python("import sys; sys.exit(42)");
  job["transient_exit_codes"] = {42};
  json gave_up = RunOne(job, 3);
  ASSERT_EQ(gave_up["state"], "error") << gave_up.dump();
  EXPECT_EQ(gave_up["attempts"], 3);
  EXPECT_EQ(gave_up["error"]["kind"], "transient");
  EXPECT_NE(gave_up["error"]["message"].get<std::string>().find("gave up after 3 attempts"),
            std::string::npos);

  // 75 is not transient once the list leaves it out.
  json permanent = Python("import sys; sys.exit(75)");
  permanent["transient_exit_codes"] = json::array();
  json once = RunOne(permanent, 3);
  EXPECT_EQ(once["state"], "error");
  EXPECT_EQ(once["attempts"], 1);
}

TEST_F(CommandOpTest, TimeoutKillsTheProgramWithErrorKindTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing({"--kill-grace-ms", "100"}));
  const std::filesystem::path pid_file = Scratch("pid");
  json job = Python(
      "import os, signal, sys, time\n"
      "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"  // the SIGKILL after the grace ends it
      "open(sys.argv[1], 'w').write(str(os.getpid()) + '\\n')\n"
      "time.sleep(1000)\n",
      {pid_file.string()});
  job["timeout_s"] = 0.5;
  json timed_out = RunOne(job, 3);
  ASSERT_EQ(timed_out["state"], "error") << timed_out.dump();
  EXPECT_EQ(timed_out["error"]["kind"], "timeout");
  EXPECT_EQ(timed_out["attempts"], 1);  // not retried
  EXPECT_NE(timed_out["error"]["message"].get<std::string>().find("timeout_s of 0.5"),
            std::string::npos);
  // A loaded machine may reach the timeout before the program wrote its pid; if it did, the
  // process is gone.
  const std::string pid = ReadFile(pid_file);
  if (!pid.empty() && pid.back() == '\n') EXPECT_FALSE(Alive(std::stoi(pid))) << pid;
}

TEST_F(CommandOpTest, CancelKillsTheWholeProcessTree) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  // The program starts a grandchild (sleep) and writes both pids, then waits.
  const std::filesystem::path pids = Scratch("pids");
  json job = Python(
      "import os, subprocess, sys, time\n"
      "child = subprocess.Popen(['/bin/sleep', '1000'])\n"
      "with open(sys.argv[1], 'w') as f: f.write('%d\\n%d\\n' % (os.getpid(), child.pid))\n"
      "time.sleep(1000)\n",
      {pids.string()});
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), {{"template", job}}));
  const std::vector<std::string> lines = WaitForLines(pids, 2);
  ASSERT_EQ(lines.size(), 2u) << "the program did not start";
  const pid_t program = std::stoi(lines[0]), grandchild = std::stoi(lines[1]);
  ASSERT_TRUE(Alive(program));
  ASSERT_TRUE(Alive(grandchild));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(
      json answer, PostJson(client(), "/api/v1/sessions/" + std::to_string(sessions[0]) + "/cancel",
                            json::object(), 202));
  ASSERT_OK_AND_ASSIGN(json s, WaitForSessionState(client(), sessions[0], "canceled", kGuard));
  EXPECT_EQ(s["error"]["kind"], "canceled");
  EXPECT_TRUE(GoneWithinGuard(program)) << "program " << program << " survived the cancel";
  EXPECT_TRUE(GoneWithinGuard(grandchild)) << "grandchild " << grandchild << " survived";
  // Its note is gone with it: a restart has nothing to kill.
  EXPECT_TRUE(std::filesystem::is_empty(data_dir() / "command" / "processes"));
}

TEST_F(CommandOpTest, ResourceLimitsReachThePrograms) {
  ASSERT_NO_FATAL_FAILURE(
      StartAllowing({"--command-rlimit-as", "4294967296", "--command-rlimit-cpu", "600",
                     "--command-rlimit-nofile", "64"}));
  json s = RunOne(Python(
      "import json, os, resource as r\n"
      "json.dump([r.getrlimit(x)[0] for x in (r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_NOFILE)],\n"
      "          open(os.environ['BATCHD_RESULT_FILE'], 'w'))\n"));
  ASSERT_EQ(s["state"], "completed") << s.dump();
  EXPECT_EQ(s["result"], json({4294967296LL, 600, 64}));
}

TEST_F(CommandOpTest, WithoutAllowCommandTheOpIsRefusedAtTemplateOp) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(
      json refused, PostJson(client(), "/api/v1/batches", {{"template", Python("print(1)")}}, 422));
  EXPECT_EQ(refused["error"]["path"], "/template/op") << refused.dump();
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("--allow-command"),
            std::string::npos);
  // Also where a data item names the op.
  const json by_data = {{"template", {{"op", "noop"}, {"argv", {"/usr/bin/python3"}}}},
                        {"data", {{{{"field", "/op"}, {"items", {"noop", "command"}}}}}}};
  ASSERT_OK_AND_ASSIGN(json refused_item, PostJson(client(), "/api/v1/batches", by_data, 422));
  EXPECT_EQ(refused_item["error"]["path"], "/data/0/0/items/1") << refused_item.dump();
  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  EXPECT_TRUE(list["items"].empty()) << "a refused batch was stored";
}

TEST_F(CommandOpTest, Argv0OutsideTheAllowlistIsRefusedNamingThePath) {
  ASSERT_NO_FATAL_FAILURE(StartAllowing());
  const json outside = {{"op", "command"}, {"argv", {"/usr/bin/env", "true"}}};
  ASSERT_OK_AND_ASSIGN(json refused,
                       PostJson(client(), "/api/v1/batches", {{"template", outside}}, 422));
  EXPECT_EQ(refused["error"]["path"], "/template/argv/0") << refused.dump();
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("/usr/bin/env"), std::string::npos)
      << refused.dump();
  // A bare name is not looked up in PATH, and a data item is checked where it stands.
  const json bare = {{"op", "command"}, {"argv", {"env"}}};
  ASSERT_OK_AND_ASSIGN(json refused_bare,
                       PostJson(client(), "/api/v1/batches", {{"template", bare}}, 422));
  EXPECT_EQ(refused_bare["error"]["path"], "/template/argv/0");
  const json by_data = {{"template", {{"op", "command"}, {"argv", {"python3", "-c", "1"}}}},
                        {"data", {{{{"field", "/argv/0"}, {"items", {"python3", "/bin/ls"}}}}}}};
  ASSERT_OK_AND_ASSIGN(json refused_item, PostJson(client(), "/api/v1/batches", by_data, 422));
  EXPECT_EQ(refused_item["error"]["path"], "/data/0/0/items/1") << refused_item.dump();
  EXPECT_NE(refused_item["error"]["message"].get<std::string>().find("/bin/ls"), std::string::npos);
  // Other members are checked at submit too.
  json bad_env = Python("1");
  bad_env["env"] = {{"BATCHD_SESSION_ID", "7"}};
  ASSERT_OK_AND_ASSIGN(json refused_env,
                       PostJson(client(), "/api/v1/batches", {{"template", bad_env}}, 422));
  EXPECT_EQ(refused_env["error"]["path"], "/template/env") << refused_env.dump();
  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  EXPECT_TRUE(list["items"].empty()) << "a refused batch was stored";
}

TEST_F(CommandOpTest, AReadTokenCannotSubmitACommandAndAnAdminTokenCan) {
  const std::filesystem::path tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(StartAllowing({"--token-file", tokens.string()}));
  const std::string body = json{{"template", Python("print(1)")}}.dump();
  ASSERT_OK_AND_ASSIGN(HttpResponse read,
                       CallWithToken(client(), "POST", "/api/v1/batches", kReadToken, body,
                                     {{"Content-Type", "application/json"}}));
  EXPECT_EQ(read.status, 403) << read.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse admin,
                       CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken, body,
                                     {{"Content-Type", "application/json"}}));
  EXPECT_EQ(admin.status, 201) << admin.Describe();
}

TEST_F(CommandOpTest, KillNineWhileFourProgramsRunLeavesNoneAliveAndEachRunsOnceMore) {
  const std::vector<std::string> args = {"--kill-grace-ms", "100"};
  ASSERT_NO_FATAL_FAILURE(StartAllowing(args));
  // Attempt 1 writes its pid and sleeps for ever; attempt 2 (after the restart) notes whether
  // attempt 1's process is still alive, then completes. Every start appends to a runs file.
  const std::filesystem::path dir = data_dir() / "scratch";
  std::filesystem::create_directories(dir);
  const std::string program =
      "import json, os, sys, time\n"
      "d, i = sys.argv[1], json.loads(os.environ['BATCHD_INDEX'])[0]\n"
      "with open('%s/runs-%d' % (d, i), 'a') as f: f.write(str(os.getpid()) + '\\n')\n"
      "if os.environ['BATCHD_ATTEMPT'] == '1':\n"
      "    open('%s/pid-%d' % (d, i), 'w').write(str(os.getpid()) + '\\n')\n"
      "    time.sleep(1000)\n"
      "first = int(open('%s/pid-%d' % (d, i)).read())\n"
      "try:\n"
      "    alive = open('/proc/%d/stat' % first).read().rsplit(')', 1)[1].split()[0] != 'Z'\n"
      "except OSError:\n"
      "    alive = False\n"
      "json.dump({'first_alive': alive}, open(os.environ['BATCHD_RESULT_FILE'], 'w'))\n";
  json job = Python(program, {dir.string()});
  job["n"] = 0;  // four sessions
  const json batch = {{"template", job}, {"data", {{{{"field", "/n"}, {"items", {0, 1, 2, 3}}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  std::vector<pid_t> first;
  for (int i = 0; i < 4; ++i) {
    const std::vector<std::string> pid = WaitForLines(dir / ("pid-" + std::to_string(i)), 1);
    ASSERT_EQ(pid.size(), 1u) << "session " << i << " did not start";
    first.push_back(std::stoi(pid[0]));
  }
  const ExitStatus killed = daemon().Kill();
  ASSERT_EQ(killed.signal, SIGKILL) << killed.ToString();
  // Orphaned now: the daemon died without stopping them.
  for (pid_t pid : first) ASSERT_TRUE(Alive(pid)) << pid;

  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      {"--allow-command", "/usr/bin/python3", "--retry-backoff-ms", "0", "--slots", "4"}));
  // The restart killed them before any session ran again (and before it answered).
  for (pid_t pid : first) EXPECT_FALSE(Alive(pid)) << "process " << pid << " outlived the crash";
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kGuard));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_EQ(sessions.size(), 4u);
  for (size_t i = 0; i < sessions.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(sessions[i])));
    EXPECT_EQ(s["attempts"], 2) << s.dump();
    EXPECT_EQ(s["result"], json({{"first_alive", false}})) << s.dump();
    // Started exactly twice: once before the crash, once after.
    const std::string runs = ReadFile(dir / ("runs-" + std::to_string(s["index"][0].get<int>())));
    EXPECT_EQ(std::count(runs.begin(), runs.end(), '\n'), 2) << runs;
  }
  EXPECT_TRUE(std::filesystem::is_empty(data_dir() / "command" / "processes"));
}

}  // namespace
}  // namespace batchd::testing
