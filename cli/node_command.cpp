// `batchd nodes [--json]`: the daemons attached to the store (GET /api/v1/nodes), with their
// slots, running sessions and heartbeat age.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace batchd::cli {
namespace {

int Nodes(CommandContext& ctx, const std::vector<std::string>& args) {
  bool as_json = false;
  for (const std::string& a : args) {
    if (a == "--json") {
      as_json = true;
    } else {
      ctx.err << "batchd nodes: unknown argument '" << a << "' (batchd --help)\n";
      return kExitUsage;
    }
  }
  Result<nlohmann::json> nodes = RequestJson(ctx, "GET", "/api/v1/nodes");
  if (!nodes.ok()) return ReportFailure(ctx, "listing nodes", nodes.status());
  if (as_json) {
    ctx.out << nodes->dump(2) << "\n";
    return kExitOk;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-6s  %-8s  %5s  %7s  %10s  %-21s  %s\n", "ID", "STATE",
                "SLOTS", "RUNNING", "HEARTBEAT", "LISTEN", "NAME");
  ctx.out << line;
  for (const nlohmann::json& n : (*nodes)["items"]) {
    const std::string age = n.value("state", "") == "alive"
                                ? std::to_string(n.value("heartbeat_age_ms", int64_t{0})) + " ms"
                                : "-";
    std::snprintf(line, sizeof line, "%-6lld  %-8s  %5lld  %7lld  %10s  %-21s  %s\n",
                  static_cast<long long>(n.value("id", int64_t{0})), n.value("state", "").c_str(),
                  static_cast<long long>(n.value("slots", int64_t{0})),
                  static_cast<long long>(n.value("running", int64_t{0})), age.c_str(),
                  n.value("listen", "").c_str(), n.value("name", "").c_str());
    ctx.out << line;
  }
  return kExitOk;
}

}  // namespace

Command NodesCommand() {
  return {"nodes", "[--json]",
          "the daemons sharing the store: state, slots, running sessions, heartbeat age", Nodes};
}

}  // namespace batchd::cli
