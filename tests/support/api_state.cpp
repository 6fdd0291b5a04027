#include "tests/support/api_state.h"

#include <string>

#include "tests/support/api_calls.h"

namespace batchd::testing {

Result<nlohmann::json> CaptureApiState(HttpClient& client) {
  nlohmann::json state = {{"batches", nlohmann::json::array()},
                          {"batch_details", nlohmann::json::object()},
                          {"sessions", nlohmann::json::object()},
                          {"session_details", nlohmann::json::object()}};
  ASSIGN_OR_RETURN(Pages batches, FetchAllPages(client, "/api/v1/batches", "limit=2"));
  for (const nlohmann::json& batch : batches.items) {
    const std::string id = batch.at("id").get<std::string>();
    state["batches"].push_back(batch);
    ASSIGN_OR_RETURN(state["batch_details"][id], GetJson(client, "/api/v1/batches/" + id));
    ASSIGN_OR_RETURN(Pages sessions,
                     FetchAllPages(client, "/api/v1/batches/" + id + "/sessions", "limit=7"));
    state["sessions"][id] = sessions.items;
    for (const nlohmann::json& session : sessions.items) {
      const std::string session_id = session.at("id").dump();
      ASSIGN_OR_RETURN(state["session_details"][session_id],
                       GetJson(client, "/api/v1/sessions/" + session_id));
    }
  }
  return state;
}

}  // namespace batchd::testing
