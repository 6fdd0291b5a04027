#include "cli/session_errors.h"

namespace batchd::cli {

using nlohmann::json;

Result<std::vector<SessionError>> FirstSessionErrors(CommandContext& ctx, const std::string& id,
                                                     int limit) {
  ASSIGN_OR_RETURN(json failed,
                   RequestJson(ctx, "GET",
                               "/api/v1/batches/" + id +
                                   "/sessions?state=error&limit=" + std::to_string(limit)));
  std::vector<SessionError> out;
  for (const json& s : failed["items"]) {
    SessionError e{.session = s.value("id", int64_t{0}),
                   .attempts = s.value("attempts", int64_t{0}),
                   .message = "(no details)"};
    Result<json> detail = RequestJson(ctx, "GET", "/api/v1/sessions/" + std::to_string(e.session));
    if (detail.ok() && (*detail)["error"].is_object()) {
      e.kind = (*detail)["error"].value("kind", "");
      e.message = (*detail)["error"].value("message", "");
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string DescribeFailure(int64_t session, const std::string& kind, bool will_retry,
                            std::optional<int64_t> attempt, const std::string& message) {
  std::string out = "session " + std::to_string(session) + " failed (" + kind + ")";
  if (will_retry) out += ", will retry";
  if (attempt) out += " after attempt " + std::to_string(*attempt);
  return out + ": " + message;
}

}  // namespace batchd::cli
