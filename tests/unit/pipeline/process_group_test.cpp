// ProcessGroup (pipeline/process/process_group.h) with real programs: /bin/sh, /usr/bin/env and
// /usr/bin/python3. No wall-clock bounds: timeouts and grace periods are set so that the
// outcome, not the time taken, tells a pass from a failure.
#include "pipeline/process/process_group.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace batchd::pipeline {
namespace {

using std::chrono::milliseconds;

constexpr const char* kPython = "/usr/bin/python3";

ProcessSpec Sh(const std::string& script) {
  return {.executable = "/bin/sh", .argv = {"sh", "-c", script}, .env = {"PATH=/usr/bin:/bin"}};
}

ProcessSpec Python(const std::string& code) {
  return {.executable = kPython, .argv = {"python3", "-c", code}, .env = {"PATH=/usr/bin:/bin"}};
}

struct Ran {
  Supervised supervised;
  std::string out;
  std::string err;
};

// Spawns, releases and supervises `spec`; `on_out` sees stdout as it comes (with the group).
Ran RunToEnd(const ProcessSpec& spec, SuperviseOptions options = {},
             std::function<void(ProcessGroup&, const std::string& out)> on_out = nullptr) {
  Ran ran;
  Result<std::unique_ptr<ProcessGroup>> group = ProcessGroup::Spawn(spec);
  EXPECT_TRUE(group.ok()) << group.status().ToString();
  if (!group.ok()) return ran;
  Status released = (*group)->Release();
  EXPECT_TRUE(released.ok()) << released.ToString();
  ProcessGroup* g = group->get();
  options.out = [&](std::string_view bytes) {
    ran.out += bytes;
    if (on_out) on_out(*g, ran.out);
  };
  options.err = [&](std::string_view bytes) { ran.err += bytes; };
  ran.supervised = (*group)->Supervise(options);
  return ran;
}

// Alive: exists and is not a zombie (a killed orphan may wait a moment for init to reap it).
bool Alive(pid_t pid) {
  std::optional<ProcStat> stat = ReadProcStat(pid);
  return stat && stat->state != 'Z';
}

// Waits (60 s at most, a hang guard) until `pid` is not alive; whether it is, then.
bool GoneWithin60s(pid_t pid) {
  for (int i = 0; i < 6000 && Alive(pid); ++i) std::this_thread::sleep_for(milliseconds(10));
  return !Alive(pid);
}

TEST(ProcessGroupTest, ExitCodeAndBothStreamsArrive) {
  Ran ran = RunToEnd(Sh("echo out; echo err >&2; exit 3"));
  EXPECT_FALSE(ran.supervised.exit.signaled);
  EXPECT_EQ(ran.supervised.exit.code, 3);
  EXPECT_EQ(ran.out, "out\n");
  EXPECT_EQ(ran.err, "err\n");
  EXPECT_EQ(ran.supervised.exit.Describe(), "exited with code 3");
}

TEST(ProcessGroupTest, StdinIsDevNullAndNoOtherDescriptorIsOpen) {
  // cat ends at once on /dev/null; a pipe or a terminal would keep it waiting.
  Ran cat = RunToEnd(Sh("cat; echo done"));
  EXPECT_EQ(cat.out, "done\n");
  Ran fds = RunToEnd(Python(
      "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd') if int(f) > 2))"));
  // The listing's own descriptor is the only one above 2.
  EXPECT_EQ(fds.out, "[3]\n");
}

TEST(ProcessGroupTest, EnvironmentIsExactlyTheGivenOne) {
  Ran ran = RunToEnd({.executable = "/usr/bin/env",
                      .argv = {"env"},
                      .env = {"A=1", "B=two words", "BATCHD_X=[0, 1]"}});
  EXPECT_EQ(ran.out, "A=1\nB=two words\nBATCHD_X=[0, 1]\n");
}

TEST(ProcessGroupTest, ArgvIsPassedWithoutAShellAndArgv0AsGiven) {
  Ran ran = RunToEnd({.executable = kPython,
                      .argv = {"my-name", "-c", "import sys; print(sys.argv)", "$HOME", "a b"},
                      .env = {}});
  EXPECT_EQ(ran.out, "['-c', '$HOME', 'a b']\n");
}

TEST(ProcessGroupTest, ProgramLeadsItsOwnGroupInTheGivenDirectory) {
  const std::filesystem::path cwd = std::filesystem::temp_directory_path();
  ProcessSpec spec = Python("import os; print(os.getpgid(0) == os.getpid(), os.getcwd())");
  spec.cwd = cwd.string();
  Ran ran = RunToEnd(spec);
  EXPECT_EQ(ran.out, "True " + std::filesystem::canonical(cwd).string() + "\n");
}

TEST(ProcessGroupTest, ResourceLimitsAreSetInTheChild) {
  ProcessSpec spec = Python(
      "import resource as r\n"
      "print(r.getrlimit(r.RLIMIT_AS)[0], r.getrlimit(r.RLIMIT_CPU)[0], "
      "r.getrlimit(r.RLIMIT_NOFILE)[0])");
  spec.limits = {.address_space_bytes = 4ull << 30, .cpu_seconds = 77, .open_files = 99};
  Ran ran = RunToEnd(spec);
  EXPECT_EQ(ran.out, std::to_string(4ull << 30) + " 77 99\n") << ran.err;
}

TEST(ProcessGroupTest, TerminateKillsTheWholeTreeIncludingAGrandchild) {
  // The shell starts a grandchild, prints its pid and waits; Terminate reaches both.
  pid_t grandchild = 0;
  Ran ran = RunToEnd(Sh("sleep 1000 & echo $!; wait"), {.kill_grace = milliseconds(60'000)},
                     [&](ProcessGroup& g, const std::string& out) {
                       if (grandchild == 0 && out.find('\n') != std::string::npos) {
                         grandchild = static_cast<pid_t>(std::stol(out));
                         g.Terminate();
                       }
                     });
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(ran.supervised.terminated);
  EXPECT_TRUE(ran.supervised.exit.signaled);
  EXPECT_EQ(ran.supervised.exit.signal, SIGTERM);
  EXPECT_TRUE(GoneWithin60s(grandchild)) << "grandchild " << grandchild << " survived";
}

TEST(ProcessGroupTest, SigtermReachesTheProgramEvenIfTheDaemonBlocksIt) {
  // batchd blocks SIGTERM in every thread (for sigwait); the child must not inherit that, or a
  // cancel would always wait out the grace period and end in SIGKILL.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  Ran ran = RunToEnd(Python("import time; print('ready', flush=True); time.sleep(1000)"),
                     {.kill_grace = milliseconds(60'000)},
                     [](ProcessGroup& g, const std::string&) { g.Terminate(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_TRUE(ran.supervised.exit.signaled);
  EXPECT_EQ(ran.supervised.exit.signal, SIGTERM);
}

TEST(ProcessGroupTest, AProgramIgnoringSigtermIsKilledAfterTheGrace) {
  Ran ran = RunToEnd(Python("import signal, time\n"
                            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                            "print('ready', flush=True)\n"
                            "time.sleep(1000)"),
                     {.kill_grace = milliseconds(50)},
                     [](ProcessGroup& g, const std::string&) { g.Terminate(); });
  EXPECT_TRUE(ran.supervised.terminated);
  EXPECT_TRUE(ran.supervised.exit.signaled);
  EXPECT_EQ(ran.supervised.exit.signal, SIGKILL);
}

TEST(ProcessGroupTest, TimeoutTerminatesAndSaysSo) {
  Ran ran = RunToEnd(Sh("sleep 1000"), {.timeout = milliseconds(50)});
  EXPECT_TRUE(ran.supervised.timed_out);
  EXPECT_FALSE(ran.supervised.terminated);
  EXPECT_TRUE(ran.supervised.exit.signaled);
}

TEST(ProcessGroupTest, BackgroundProcessesDoNotOutliveTheLeader) {
  Ran ran = RunToEnd(Sh("sleep 1000 & echo $!"));
  ASSERT_FALSE(ran.out.empty());
  const pid_t background = static_cast<pid_t>(std::stol(ran.out));
  EXPECT_EQ(ran.supervised.exit.code, 0);
  EXPECT_TRUE(GoneWithin60s(background)) << "background process " << background << " survived";
}

TEST(ProcessGroupTest, AFailedExecIsReportedNamingTheExecutable) {
  Result<std::unique_ptr<ProcessGroup>> group =
      ProcessGroup::Spawn({.executable = "/nonexistent/prog", .argv = {"prog"}});
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  Status released = (*group)->Release();
  EXPECT_EQ(released.code(), StatusCode::kNotFound);
  EXPECT_NE(released.message().find("/nonexistent/prog"), std::string::npos) << released.message();
  Supervised s = (*group)->Supervise({});
  EXPECT_EQ(s.exit.code, 127);
}

TEST(ProcessGroupTest, AGroupNeverReleasedRunsNothing) {
  // What a daemon that dies between Spawn and Release leaves: the child exits at the gate.
  const std::filesystem::path marker =
      std::filesystem::temp_directory_path() / ("batchd-gate-" + std::to_string(::getpid()));
  std::filesystem::remove(marker);
  pid_t pid = 0;
  {
    Result<std::unique_ptr<ProcessGroup>> group =
        ProcessGroup::Spawn({.executable = "/usr/bin/touch", .argv = {"touch", marker.string()}});
    ASSERT_TRUE(group.ok()) << group.status().ToString();
    pid = (*group)->pgid();
    EXPECT_GT((*group)->start_ticks(), 0u);
  }
  EXPECT_FALSE(Alive(pid));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(ProcessGroupTest, RelativeExecutableIsRefused) {
  Result<std::unique_ptr<ProcessGroup>> group =
      ProcessGroup::Spawn({.executable = "sh", .argv = {"sh"}});
  EXPECT_EQ(group.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProcMetricsTest, ReadProcStatSeesThisProcess) {
  std::optional<ProcStat> self = ReadProcStat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->pgrp, ::getpgrp());
  EXPECT_GT(self->start_ticks, 0u);
}

}  // namespace
}  // namespace batchd::pipeline
