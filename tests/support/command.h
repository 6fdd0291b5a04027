// Runs a helper program to completion (Debian's python3 with zarr-python, say) and captures
// what it printed, for tests that check batchd against a real peer.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::testing {

struct CommandOutput {
  int exit_code = -1;  // -1 if killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (searched in PATH) with the arguments, waits for it (killing it after
// `timeout`), and returns its output. kIoError if it cannot be started or times out; a non-zero
// exit is not an error here (check exit_code).
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Runs `argv`, requires exit code 0, and parses the last line of stdout as JSON. The error
// carries stderr when it fails.
Result<nlohmann::json> RunJsonCommand(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Debian's interpreter, which has numpy, zarr and numcodecs (the first python3 on PATH may be
// another one).
inline constexpr const char* kSystemPython = "/usr/bin/python3";

// ../shared/anchors next to the repository (BATCHD_SHARED_DIR at build time).
std::filesystem::path SharedAnchorsDir();
// tests/e2e in the repository (helper scripts).
std::filesystem::path E2eScriptsDir();

}  // namespace batchd::testing
