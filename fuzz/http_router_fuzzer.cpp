// Fuzzes the HTTP API below Beast: request targets (RequestFromTarget: path decoding, query
// parsing), the Router's matching, and every real handler (api/routes.cpp,
// api/lifecycle_routes.cpp) with their validation and rendering, against an InMemoryStore.
//
// An input is up to kMaxRequests requests separated by NUL bytes, each
//   <METHOD> <target>\n<body>
// (fuzz/make_corpus.py writes the seeds). The store starts empty for every input, so a POST can
// create the batch that later requests of the same input read, cancel or delete. Everything
// runs on the fuzzer's thread. Checks, for every request: exactly one response, delivered
// before Dispatch returns; a known status; a JSON body, with {"error": {"code",
// "message", "path"}} on errors and an Allow header on 405 (the dashboard's files, a GET outside
// the API, are the one non-JSON answer); and a refused request changes nothing in the store.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.h"
#include "api/router.h"
#include "api/routes.h"
#include "core/worker_pool.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/in_memory_store.h"
#include "pipeline/ops/op_registry.h"

namespace batchd::fuzz {
namespace {

constexpr size_t kMaxRequests = 4;

class IdleScheduler final : public api::SchedulerControl {
 public:
  void Wake() override {}
  void CancelRunningSession(int64_t) override {}
  void CancelRunningBatch(const std::string&) override {}
  void ForgetBatch(const std::string&) override {}
  api::SchedulerStats Stats() const override { return {.slots = 2}; }
};

// Built once: the routes, what they hold references to (ops with their timer thread, the
// validation pool, the store) and the scheduler stand-in. The store is emptied for each input.
struct Fixed {
  // A pool of zero threads validates submissions on the calling thread, and the store answers
  // at once: every response has arrived when Dispatch returns, and runs replay exactly.
  Fixed() : cpu(0, 64) {
    pipeline::RegisterBuiltinOps(ops, timers);
    api::RegisterRoutes(
        router, api::ApiContext{
                    .store = store, .cpu = cpu, .scheduler = scheduler, .ops = ops, .options = {}});
  }
  pipeline::TimerService timers;
  pipeline::OpRegistry ops;
  WorkerPool cpu;
  IdleScheduler scheduler;
  InMemoryStore store;
  api::Router router;
};

Fixed& Shared() {
  static Fixed* fixed = new Fixed();  // never destroyed: its threads outlive exit handlers
  return *fixed;
}

void CheckResponse(const api::HttpRequest& request, const api::HttpResponse& r) {
  const std::string what = request.method + " " + request.path + " -> " + std::to_string(r.status) +
                           " " + r.body.substr(0, 300);
  static const std::set<int> kKnown = {200, 201, 202, 400, 404, 405, 409, 413, 422, 503};
  FUZZ_CHECK(kKnown.contains(r.status), what);
  // The dashboard's files (api/static_files.cpp) are the one answer that is not JSON: a GET
  // outside the API that found a file.
  if (r.status == 200 && r.content_type != "application/json") {
    FUZZ_CHECK(request.method == "GET" && !request.path.starts_with("/api/") &&
                   request.path != "/healthz" && !r.content_type.empty(),
               what);
    return;
  }
  FUZZ_CHECK(r.content_type == "application/json", what);
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!body.is_discarded(), "body is not JSON: " + what);
  if (r.status >= 400) {
    FUZZ_CHECK(body.contains("error") && body["error"].is_object(), what);
    const nlohmann::json& e = body["error"];
    FUZZ_CHECK(e.contains("code") && e["code"].is_string() && e.contains("message") &&
                   e["message"].is_string() && e.contains("path") && e["path"].is_string(),
               what);
  }
  if (r.status == 405) {
    bool allow = false;
    for (const auto& [name, value] : r.headers)
      allow = allow || (name == "Allow" && !value.empty());
    FUZZ_CHECK(allow, what);
  }
}

void RunRequest(const api::Router& router, InMemoryStore& store, std::string_view text) {
  const size_t line_end = std::min(text.find('\n'), text.size());
  const std::string_view line = text.substr(0, line_end);
  const size_t space = line.find(' ');
  const std::string method(line.substr(0, space));
  const std::string_view target =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  const std::string body(line_end < text.size() ? text.substr(line_end + 1) : std::string_view());
  api::HttpRequest request = api::RequestFromTarget(method, target, body);

  const std::string before = store.Fingerprint();
  std::vector<api::HttpResponse> responses;
  router.Dispatch(request,
                  [&responses](api::HttpResponse response) { responses.push_back(response); });
  FUZZ_CHECK(responses.size() == 1, std::to_string(responses.size()) + " responses to " +
                                        request.method + " " + request.path);
  const api::HttpResponse& response = responses.front();
  CheckResponse(request, response);
  if (response.status >= 400) {
    FUZZ_CHECK(store.Fingerprint() == before,
               "refused request changed the store: " + request.method + " " + request.path);
  }
}

}  // namespace
}  // namespace batchd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchd;
  fuzz::Fixed& fixed = fuzz::Shared();
  fixed.store.Clear();  // each input starts from an empty store, so runs replay exactly
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < fuzz::kMaxRequests && !input.empty(); ++i) {
    const size_t end = std::min(input.find('\0'), input.size());
    fuzz::RunRequest(fixed.router, fixed.store, input.substr(0, end));
    input.remove_prefix(std::min(end + 1, input.size()));
  }
  return 0;
}
