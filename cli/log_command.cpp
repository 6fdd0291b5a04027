// `batchd logs SESSION [--stream stderr] [-f]`: a command session's stdout or stderr, read in
// slices from GET /api/v1/sessions/{id}/log; -f keeps asking (the daemon's long poll waits for
// new bytes) until the session has ended and every byte is printed.
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace batchd::cli {
namespace {

constexpr const char* kSliceBytes = "1048576";  // the most one answer may carry
// How long one follow may wait: well within the client's 30 s timeout for an answer; the
// command then asks again.
constexpr const char* kFollowWaitMs = "20000";

int Logs(CommandContext& ctx, const std::vector<std::string>& args) {
  std::string session;
  std::string stream = "stdout";
  bool follow = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-f" || a == "--follow") {
      follow = true;
    } else if (a == "--stream" || a.starts_with("--stream=")) {
      if (a == "--stream" && i + 1 >= args.size()) {
        ctx.err << "batchd logs: --stream needs a value (stdout or stderr)\n";
        return kExitUsage;
      }
      stream = a == "--stream" ? args[++i] : a.substr(9);
      if (stream != "stdout" && stream != "stderr") {
        ctx.err << "batchd logs: --stream must be stdout or stderr, got '" << stream << "'\n";
        return kExitUsage;
      }
    } else if (a.starts_with("-") && a.size() > 1) {
      ctx.err << "batchd logs: unknown option '" << a << "'\n";
      return kExitUsage;
    } else if (session.empty()) {
      session = a;
    } else {
      ctx.err << "batchd logs: expected 1 argument, got more (batchd --help)\n";
      return kExitUsage;
    }
  }
  if (session.empty()) {
    ctx.err << "batchd logs: expected 1 argument, got 0 (batchd --help)\n";
    return kExitUsage;
  }
  std::string offset = "0";
  while (true) {
    const std::string target = "/api/v1/sessions/" + session + "/log?stream=" + stream +
                               "&offset=" + offset + "&max_bytes=" + kSliceBytes +
                               (follow ? std::string("&follow=1&wait_ms=") + kFollowWaitMs : "");
    Result<HttpResult> r = ctx.daemon.Request("GET", target);
    if (!r.ok()) return ReportFailure(ctx, "reading the log of session " + session, r.status());
    if (r->status != 200) {
      return ReportFailure(ctx, "reading the log of session " + session,
                           Status::FailedPrecondition(DescribeErrorBody(r->status, r->body)));
    }
    if (r->header("batchd-log-restarted") == "true") {
      ctx.out << std::flush;
      ctx.err << "batchd: session " << session << " began a new attempt; its " << stream
              << " starts again\n";
    }
    ctx.out << r->body << std::flush;
    const std::string next = r->header("batchd-log-next-offset");
    if (next.empty()) {
      ctx.err << "batchd logs: the daemon's answer has no Batchd-Log-Next-Offset\n";
      return kExitRefused;
    }
    offset = next;
    if (r->header("batchd-log-complete") == "true") return kExitOk;
    // Without -f: what the log held when it was read, then stop.
    if (!follow && (r->body.empty() || next == r->header("batchd-log-size"))) return kExitOk;
  }
}

}  // namespace

Command LogsCommand() {
  return {"logs", "SESSION [--stream stdout|stderr] [-f]",
          "print a command session's stdout (or stderr); -f follows it until the session ends",
          Logs};
}

}  // namespace batchd::cli
