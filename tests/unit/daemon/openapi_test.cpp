// api/openapi.json against the router the daemon really serves (the same RegisterRoutes that
// `batchd serve` calls, over a real store and scheduler): every served route is documented and
// every documented route is served; and the document holds together (OpenAPI 3, every $ref
// resolves, every path parameter is declared).
#include "api/openapi.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "api/event_hub.h"
#include "api/routes.h"
#include "core/worker_pool.h"
#include "daemon/scheduler.h"
#include "pipeline/ops/op_registry.h"
#include "storage_test_util.h"

namespace batchd::api {
namespace {

using nlohmann::json;

const char* kMethods[] = {"get", "put", "post", "delete", "patch", "head", "options"};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Describe(const std::set<std::string>& only_here) {
  std::string out;
  for (const std::string& s : only_here) out += "\n  " + s;
  return out.empty() ? " (none)" : out;
}

json Document() {
  json doc = json::parse(OpenApiDocument(), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "api/openapi.json is not JSON";
  return doc;
}

TEST(OpenApiTest, DocumentsExactlyTheRoutesTheDaemonServes) {
  storage::testing::TempDir dir;
  Result<std::unique_ptr<storage::Store>> store =
      storage::OpenSqliteStore({.db_path = dir.path() / "batchd.db"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  pipeline::TimerService timers;
  pipeline::OpRegistry ops;
  pipeline::RegisterBuiltinOps(ops, timers);
  daemon::Scheduler scheduler(**store, ops, {});
  WorkerPool cpu(1, 4);
  EventHub hub(4);
  Router router;
  RegisterRoutes(
      router, {.store = **store, .cpu = cpu, .scheduler = scheduler, .ops = ops, .events = &hub});

  std::set<std::string> served;
  for (const std::string& route : router.Routes()) served.insert(route);
  std::set<std::string> documented;
  const json doc = Document();  // named: a temporary would die before the loop runs
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const char* method : kMethods) {
      if (item.contains(method)) documented.insert(Upper(method) + " " + path);
    }
  }
  ASSERT_FALSE(served.empty());
  std::set<std::string> undocumented, unserved;
  std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                      std::inserter(undocumented, undocumented.end()));
  std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                      std::inserter(unserved, unserved.end()));
  EXPECT_TRUE(undocumented.empty())
      << "served but not in api/openapi.json:" << Describe(undocumented);
  EXPECT_TRUE(unserved.empty()) << "in api/openapi.json but not served:" << Describe(unserved);
  scheduler.Stop();
  (*store)->Close();
}

TEST(OpenApiTest, IsAnOpenApi3DocumentThatHoldsTogether) {
  const json doc = Document();
  EXPECT_TRUE(doc.value("openapi", "").starts_with("3.")) << doc.value("openapi", "");
  EXPECT_TRUE(doc["info"].contains("title"));
  const json& components = doc["components"];

  // Every $ref names an existing component (a schema, or a shared response).
  std::function<void(const json&, const std::string&)> walk = [&](const json& j,
                                                                  const std::string& where) {
    if (j.is_object()) {
      if (auto ref = j.find("$ref"); ref != j.end()) {
        const std::string target = *ref;
        bool resolves = false;
        for (const char* kind : {"schemas", "responses"}) {
          const std::string prefix = std::string("#/components/") + kind + "/";
          resolves |= target.starts_with(prefix) && components.contains(kind) &&
                      components[kind].contains(target.substr(prefix.size()));
        }
        EXPECT_TRUE(resolves) << where << ": $ref " << target << " resolves to nothing";
      }
      for (const auto& [k, v] : j.items()) walk(v, where + "/" + k);
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) walk(j[i], where + "/" + std::to_string(i));
    }
  };
  walk(doc, "");

  // Every {param} of a path is a declared path parameter of each of its operations, and every
  // operation answers something.
  const std::regex param(R"(\{([a-z_]+)\})");
  for (const auto& [path, item] : doc["paths"].items()) {
    std::set<std::string> in_path;
    for (std::sregex_iterator it(path.begin(), path.end(), param), end; it != end; ++it) {
      in_path.insert((*it)[1]);
    }
    for (const char* method : kMethods) {
      if (!item.contains(method)) continue;
      const json& op = item[method];
      EXPECT_FALSE(op.value("responses", json::object()).empty()) << method << " " << path;
      std::set<std::string> declared;
      for (const json& p : op.value("parameters", json::array())) {
        if (p.value("in", "") == "path") declared.insert(p.value("name", ""));
      }
      EXPECT_EQ(declared, in_path) << method << " " << path;
    }
  }
}

}  // namespace
}  // namespace batchd::api
