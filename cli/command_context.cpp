#include "cli/command_context.h"

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace batchd::cli {

int ReportFailure(CommandContext& ctx, const std::string& what, const Status& status) {
  ctx.err << "batchd: " << what << ": " << status.message() << "\n";
  return status.code() == StatusCode::kUnavailable ? kExitUnreachable : kExitRefused;
}

Result<nlohmann::json> RequestJson(CommandContext& ctx, std::string_view method,
                                   std::string_view target, std::string_view body) {
  ASSIGN_OR_RETURN(HttpResult r, ctx.daemon.Request(method, target, body));
  if (r.status < 200 || r.status > 299) {
    const std::string why = DescribeErrorBody(r.status, r.body);
    if (r.status == 404) return Status::NotFound(why);
    return Status::FailedPrecondition(why);
  }
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::Malformed("the daemon answered something that is not JSON");
  return j;
}

std::string DescribeErrorBody(int http_status, const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  const std::string suffix = " (HTTP " + std::to_string(http_status) + ")";
  if (j.is_discarded() || !j.contains("error") || !j["error"].is_object()) {
    return (body.empty() ? "no details" : body.substr(0, 500)) + suffix;
  }
  const nlohmann::json& e = j["error"];
  std::string out = e.value("code", "error");
  const std::string path = e.value("path", "");
  if (!path.empty()) out += " at " + path;
  out += ": " + e.value("message", "") + suffix;
  if (http_status == 401) out += "; give one with --token or BATCHD_TOKEN";
  if (http_status == 403 && e.value("code", "") == "forbidden") out += "; use an admin token";
  return out;
}

}  // namespace batchd::cli
