// GET /api/v1/nodes: the daemons attached to the state store (docs/scale-out.md). The embedded
// store lists this daemon alone; the PostgreSQL store every node that registered.
#include <nlohmann/json.hpp>

#include "api/json_views.h"
#include "api/route_helpers.h"
#include "api/routes.h"

namespace batchd::api {
namespace {

nlohmann::json NodeJson(const storage::NodeRecord& n, int64_t now_ms) {
  nlohmann::json j = {{"id", n.id},
                      {"name", n.identity.name},
                      {"host", n.identity.host},
                      {"listen", n.identity.listen},
                      {"slots", n.identity.slots},
                      {"state", n.state},
                      {"running", n.running},
                      {"started_at", FormatUtcMillis(n.started_at_ms)},
                      {"heartbeat_at", FormatUtcMillis(n.heartbeat_at_ms)},
                      // Measured against this node's clock: a large age on an alive node is a
                      // node about to be declared dead (or clocks apart).
                      {"heartbeat_age_ms", std::max<int64_t>(0, now_ms - n.heartbeat_at_ms)},
                      {"ended_at", nullptr},
                      {"rescued_by", nullptr},
                      {"rescued", n.rescued}};
  if (n.ended_at_ms) j["ended_at"] = FormatUtcMillis(*n.ended_at_ms);
  if (n.rescued_by) j["rescued_by"] = *n.rescued_by;
  return j;
}

}  // namespace

void RegisterNodeRoutes(Router& router, const ApiContext& ctx) {
  router.Add("GET", "/api/v1/nodes", [ctx](HttpRequest&, Responder respond) {
    ctx.store.ListNodes([ctx, respond](Result<std::vector<storage::NodeRecord>> nodes) {
      if (!nodes.ok()) return respond(ErrorResponse(nodes.status()));
      const int64_t now = ctx.clock();
      nlohmann::json items = nlohmann::json::array();
      for (const storage::NodeRecord& n : *nodes) items.push_back(NodeJson(n, now));
      respond(JsonResponse(200, {{"items", std::move(items)}}));
    });
  });
}

}  // namespace batchd::api
