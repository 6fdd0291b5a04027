// Runs a command-line program (the batchd CLI) as a child process for black-box tests: its
// stdout and stderr captured apart, stdin fed from a string, the environment extended, and the
// whole run bounded by a timeout (the child is killed then), so a hung CLI fails the test.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace batchd::testing {

struct CliResult {
  int exit_code = -1;  // -1 when it was killed (by the timeout or a signal)
  std::string out;
  std::string err;
  std::string Describe() const;  // "exit 4; stdout: ...; stderr: ..."
};

struct CliOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) ours
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::string stdin_text;
};

// kIoError if the program cannot be started.
Result<CliResult> RunCli(const std::filesystem::path& program, const std::vector<std::string>& args,
                         const CliOptions& options = {});

}  // namespace batchd::testing
