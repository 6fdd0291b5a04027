// Fuzzes the HTTP API below Beast: request targets (RequestFromTarget: path decoding, query
// parsing), the Router's matching, and every real handler (api/routes.cpp,
// api/lifecycle_routes.cpp) with their validation and rendering, against a real SqliteStore.
//
// An input is up to kMaxRequests requests separated by NUL bytes, each
//   <METHOD> <target>\n<body>
// (fuzz/make_corpus.py writes the seeds). Every input gets a fresh database in a temp directory,
// so a POST can create the batch that later requests of the same input read, cancel or delete;
// a path segment b1..b9 stands for the public id of the input's 1st..9th created batch (the
// store's ids are random). Checks, for every request: exactly one response (the store answers
// on its own threads: the fuzzer waits for the response, and counts them again once the store
// has closed); a known status; a JSON body, with {"error": {"code", "message", "path"}} on errors
// and an Allow header on 405 (the dashboard's files, a GET outside the API, are the one non-JSON
// answer); and a refused request changes nothing the store shows (batches, their counters and
// sessions, the queue).
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.h"
#include "api/router.h"
#include "api/routes.h"
#include "core/mutex.h"
#include "core/worker_pool.h"
#include "fuzz/fuzz_check.h"
#include "pipeline/ops/op_registry.h"
#include "storage/store.h"

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

constexpr int64_t kNowMs = 1'700'000'000'000;  // a fixed clock: the store's times replay

// Built once: the ops with their timer thread, the validation pool, the scheduler stand-in and
// a directory for the databases. The store and the routes over it are made for each input.
struct Fixed {
  // A pool of zero threads validates submissions on the calling thread.
  Fixed() : cpu(0, 64) {
    pipeline::RegisterBuiltinOps(ops, timers);
    // In memory where there is a tmpfs: every input creates and syncs a database.
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    std::string pattern = (base / "batchd-fuzz-XXXXXX").string();
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp failed in " + base.string());
    dir = pattern;
    static std::filesystem::path made;  // for the exit handler, which cannot capture
    made = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
  }
  pipeline::TimerService timers;
  pipeline::OpRegistry ops;
  WorkerPool cpu;
  IdleScheduler scheduler;
  std::filesystem::path dir;
};

Fixed& Shared() {
  static Fixed* fixed = new Fixed();  // never destroyed: its threads outlive exit handlers
  return *fixed;
}

// A fresh SQLite store for one input, and the routes over it. Closing removes the database.
class InputStore {
 public:
  explicit InputStore(Fixed& fixed) : path_(fixed.dir / "batchd.db") {
    Remove();
    Result<std::unique_ptr<storage::Store>> s = storage::OpenSqliteStore(
        {.db_path = path_, .reader_threads = 1, .check_integrity = false, .clock = [] {
           return kNowMs;
         }});
    FUZZ_CHECK(s.ok(), s.status().ToString());
    store_ = std::move(*s);
    api::RegisterRoutes(router_, api::ApiContext{.store = *store_,
                                                 .cpu = fixed.cpu,
                                                 .scheduler = fixed.scheduler,
                                                 .ops = fixed.ops,
                                                 .options = {},
                                                 .clock = [] { return kNowMs; }});
  }
  ~InputStore() {
    store_->Close();
    Remove();
  }

  storage::Store& store() { return *store_; }
  const api::Router& router() const { return router_; }

 private:
  void Remove() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path_.string() + suffix, ec);
    }
  }

  std::filesystem::path path_;
  std::unique_ptr<storage::Store> store_;
  api::Router router_;
};

template <typename T, typename Start>
Result<T> Await(Start start) {
  // Shared: the store's thread may still be inside set_value when get() returns here.
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

// Everything a request could change, as the store shows it: equal before and after a refused
// request. Sessions are listed for the first 1000 of each batch (the counters cover the rest).
std::string Fingerprint(storage::Store& store) {
  Result<storage::QueueStatus> queue =
      Await<storage::QueueStatus>([&](auto cb) { store.GetQueueStatus(cb); });
  FUZZ_CHECK(queue.ok(), queue.status().ToString());
  std::string out = queue->paused ? "paused;" : "running;";
  std::optional<int64_t> cursor;
  do {
    Result<storage::Page<storage::BatchRecord>> page = Await<storage::Page<storage::BatchRecord>>(
        [&](auto cb) { store.ListBatches({.before_id = cursor, .limit = 1000}, cb); });
    FUZZ_CHECK(page.ok(), page.status().ToString());
    for (const storage::BatchRecord& r : page->items) {
      const storage::SessionCounts& c = r.counts;
      out += r.public_id + ":" + storage::BatchStateName(r.state) + ":" +
             std::to_string(c.uninitialized) + "," + std::to_string(c.in_progress) + "," +
             std::to_string(c.completed) + "," + std::to_string(c.error) + "," +
             std::to_string(c.canceled) + ":" + std::to_string(r.priority) + ":" +
             std::to_string(r.finished_at_ms.value_or(-1)) + ":" + r.result_json.value_or("");
      Result<storage::Page<storage::SessionRecord>> sessions =
          Await<storage::Page<storage::SessionRecord>>([&](auto cb) {
            store.ListSessions({.batch_public_id = r.public_id, .limit = 1000}, cb);
          });
      FUZZ_CHECK(sessions.ok(), sessions.status().ToString());
      for (const storage::SessionRecord& s : sessions->items) {
        out += " " + std::to_string(s.id) + "=" + storage::SessionStateName(s.state);
      }
      out += ";";
    }
    cursor = page->next_cursor;
  } while (cursor);
  return out;
}

// The responses to one request, as they arrive on the store's threads.
class Responses {
 public:
  api::Responder Responder() {
    return [this](api::HttpResponse response) {
      MutexLock lock(mu_);
      responses_.push_back(std::move(response));
      arrived_.SignalAll();
    };
  }
  // Waits for the first response (libFuzzer's -timeout is the hang guard) and returns it.
  api::HttpResponse First() {
    MutexLock lock(mu_);
    while (responses_.empty()) arrived_.Wait(mu_);
    return responses_.front();
  }
  size_t Count() {
    MutexLock lock(mu_);
    return responses_.size();
  }

 private:
  Mutex mu_;
  CondVar arrived_;
  std::vector<api::HttpResponse> responses_ GUARDED_BY(mu_);
};

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

// `target` with each path segment b1..b9 replaced by the public id of that created batch.
std::string ResolveBatchIds(std::string_view target, const std::vector<std::string>& created) {
  std::string out;
  size_t i = 0;
  while (i < target.size()) {
    const size_t end = std::min(target.find_first_of("/?", i + 1), target.size());
    std::string_view part = target.substr(i, end - i);  // "/b1", "?x=1", "/api"...
    if (part.size() == 3 && part[0] == '/' && part[1] == 'b' && part[2] >= '1' && part[2] <= '9' &&
        static_cast<size_t>(part[2] - '1') < created.size()) {
      out += "/" + created[static_cast<size_t>(part[2] - '1')];
    } else {
      out += part;
    }
    if (part.starts_with("?")) {
      out += target.substr(end);
      break;
    }
    i = end;
  }
  return out;
}

void RunRequest(InputStore& input, std::string_view text, std::vector<std::string>& created,
                Responses& responses) {
  const size_t line_end = std::min(text.find('\n'), text.size());
  const std::string_view line = text.substr(0, line_end);
  const size_t space = line.find(' ');
  const std::string method(line.substr(0, space));
  const std::string target = ResolveBatchIds(
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1), created);
  const std::string body(line_end < text.size() ? text.substr(line_end + 1) : std::string_view());
  api::HttpRequest request = api::RequestFromTarget(method, target, body);

  const std::string before = Fingerprint(input.store());
  input.router().Dispatch(request, responses.Responder());
  const api::HttpResponse response = responses.First();
  CheckResponse(request, response);
  if (response.status >= 400) {
    FUZZ_CHECK(Fingerprint(input.store()) == before,
               "refused request changed the store: " + request.method + " " + request.path);
  }
  if (response.status == 201 && request.method == "POST") {
    const nlohmann::json created_body =
        nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (created_body.is_object() && created_body.contains("id") && created_body["id"].is_string()) {
      created.push_back(created_body["id"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace batchd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchd;
  fuzz::Fixed& fixed = fuzz::Shared();
  std::vector<std::unique_ptr<fuzz::Responses>> responses;
  std::vector<std::string> what;
  {
    fuzz::InputStore input(fixed);  // each input starts from an empty database
    std::vector<std::string> created;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (size_t i = 0; i < fuzz::kMaxRequests && !rest.empty(); ++i) {
      const size_t end = std::min(rest.find('\0'), rest.size());
      const std::string_view text = rest.substr(0, end);
      what.emplace_back(text.substr(0, std::min(text.find('\n'), text.size())));
      responses.push_back(std::make_unique<fuzz::Responses>());
      fuzz::RunRequest(input, text, created, *responses.back());
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
  }  // the store is closed: every callback that was to run has run
  for (size_t i = 0; i < responses.size(); ++i) {
    FUZZ_CHECK(responses[i]->Count() == 1,
               std::to_string(responses[i]->Count()) + " responses to " + what[i]);
  }
  return 0;
}
