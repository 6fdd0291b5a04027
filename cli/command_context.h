// What a CLI command runs with: the daemon connection and where to write.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/daemon_client.h"

namespace batchd::cli {

struct CommandContext {
  DaemonClient& daemon;
  std::ostream& out;
  std::ostream& err;
  // stdout is a terminal: progress is redrawn in place instead of printed line by line.
  bool interactive = false;
  int terminal_width = 100;
};

// Prints what went wrong with a request and returns the exit code it means: kExitUnreachable
// for a daemon that cannot be reached, kExitRefused for an error answer. `what` says what was
// attempted ("submitting batch.json").
int ReportFailure(CommandContext& ctx, const std::string& what, const Status& status);

// A request answered with JSON: the body of a 2xx answer. Otherwise kNotFound (404) or
// kFailedPrecondition (any other status) carrying DescribeErrorBody, or the transport's error.
Result<nlohmann::json> RequestJson(CommandContext& ctx, std::string_view method,
                                   std::string_view target, std::string_view body = {});

// Turns an error answer ({"error": {"code", "message", "path"}}) into words:
// "invalid_batch at /data/0/0/field: field "/y" does not exist in template (HTTP 422)".
std::string DescribeErrorBody(int http_status, const std::string& body);

}  // namespace batchd::cli
