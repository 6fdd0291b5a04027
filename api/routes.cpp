#include "api/routes.h"

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/batch_json_text.h"
#include "api/error_response.h"
#include "api/json_views.h"
#include "api/op_validation.h"
#include "api/openapi.h"
#include "api/page_budget.h"
#include "api/query_params.h"
#include "api/results_export.h"
#include "api/route_helpers.h"
#include "api/static_files.h"
#include "core/batch_expansion.h"
#include "core/batch_spec.h"

namespace batchd::api {
namespace {

constexpr int kMaxPageSize = 1000;

// {"items": [...], "next_cursor": ...}: the page's items while they fit in `max_page_bytes`
// (page_budget.h), and the cursor after the last one shown.
template <typename T, typename ToJson>
std::string PageJsonText(const storage::Page<T>& page, ToJson to_json, size_t max_page_bytes) {
  std::vector<std::string> items;
  items.reserve(page.items.size());
  for (const T& item : page.items) items.push_back(to_json(item).dump());
  const size_t shown = ItemsWithin(items, max_page_bytes);
  items.resize(shown);
  const std::optional<int64_t> cursor = shown < page.items.size()
                                            ? std::optional<int64_t>(page.items[shown - 1].id)
                                            : page.next_cursor;
  return "{\"items\":" + JsonArrayOf(items) +
         ",\"next_cursor\":" + (cursor ? "\"" + std::to_string(*cursor) + "\"" : "null") + "}";
}

storage::NewBatch ToNewBatch(const BatchSpec& spec) {
  const BatchShape shape = BatchShape::Of(spec);
  return storage::NewBatch{
      .name = spec.name,
      .priority = spec.priority,
      .runs = spec.runs,
      .max_running = spec.max_running,
      .max_attempts = spec.max_attempts,
      .spec_json = BatchSpecToJson(spec).dump(),
      .group_lengths = shape.group_lengths,
      .session_count = shape.SessionCount().value_or(0),  // validated: it does not overflow
  };
}

// Parsing and validating a body of up to --max-body-bytes is CPU work: it goes to the worker
// pool, and from there to the writer; the HTTP thread returns at once.
void SubmitBatch(const ApiContext& ctx, HttpRequest& request, Responder respond) {
  auto body = std::make_shared<std::string>(std::move(request.body));
  const bool queued = ctx.cpu.Submit([&ctx, body, respond] {
    Result<BatchSpec> spec = ParseBatchSpec(*body, {ctx.options.max_sessions_per_batch});
    if (!spec.ok()) {
      const bool too_many = spec.status().code() == StatusCode::kLimitExceeded;
      respond(ErrorResponse(spec.status(), too_many ? "too_many_sessions" : ""));
      return;
    }
    if (Status ops = ValidateOps(*spec, ctx.ops); !ops.ok()) {
      respond(ErrorResponse(ops));
      return;
    }
    ctx.store.CreateBatch(ToNewBatch(*spec), [&ctx, respond](Result<storage::BatchCreated> c) {
      // The store's only limit is the number of unfinished batches: too many at once, not too
      // large, so 429 (retry once some have finished) rather than 413.
      if (!c.ok() && c.status().code() == StatusCode::kLimitExceeded) {
        return respond(ErrorResponse(429, "too_many_batches", c.status().message()));
      }
      if (!c.ok()) return respond(ErrorResponse(c.status()));
      ctx.scheduler.Wake();  // new work is picked up now, not on a polling tick
      HttpResponse r = JsonResponse(
          201, {{"id", c->public_id}, {"sessions", c->sessions}, {"enqueue_ms", c->enqueue_ms}});
      r.headers.emplace_back("Location", "/api/v1/batches/" + c->public_id);
      respond(std::move(r));
    });
  });
  if (!queued) {
    respond(ErrorResponse(Status::Unavailable("too many submissions waiting; retry later")));
  }
}

void ListBatches(const ApiContext& ctx, HttpRequest& request, Responder respond) {
  storage::BatchListQuery q;
  q.max_bytes = ctx.options.max_page_bytes;
  Result<int> limit = ParseLimit(request, 50, kMaxPageSize);
  if (!limit.ok()) return respond(ErrorResponse(limit.status()));
  q.limit = *limit;
  Result<std::optional<int64_t>> cursor = ParseCursor(request);
  if (!cursor.ok()) return respond(ErrorResponse(cursor.status()));
  q.before_id = *cursor;
  if (auto it = request.query.find("state"); it != request.query.end()) {
    q.state = storage::ParseBatchState(it->second);
    if (!q.state) {
      return respond(ErrorResponse(
          Status::Malformed("state must be a batch state, got '" + it->second + "'", "?state")));
    }
  }
  ctx.store.ListBatches(q, Answer<storage::Page<storage::BatchRecord>>(
                               respond, [budget = ctx.options.max_page_bytes](
                                            const storage::Page<storage::BatchRecord>& page) {
                                 return TextJsonResponse(200, BatchPageJsonText(page, budget));
                               }));
}

void GetBatch(storage::Store& store, HttpRequest& request, Responder respond) {
  store.GetBatch(request.path_params.at("id"),
                 Answer<storage::BatchRecord>(respond, [](const storage::BatchRecord& b) {
                   std::string body;
                   body.reserve(384);
                   AppendBatchJsonText(body, b);
                   return TextJsonResponse(200, std::move(body));
                 }));
}

void ListSessions(const ApiContext& ctx, HttpRequest& request, Responder respond) {
  storage::SessionListQuery q;
  q.batch_public_id = request.path_params.at("id");
  Result<int> limit = ParseLimit(request, 100, kMaxPageSize);
  if (!limit.ok()) return respond(ErrorResponse(limit.status()));
  q.limit = *limit;
  Result<std::optional<int64_t>> cursor = ParseCursor(request);
  if (!cursor.ok()) return respond(ErrorResponse(cursor.status()));
  q.after_id = *cursor;
  if (auto it = request.query.find("state"); it != request.query.end()) {
    q.state = storage::ParseSessionState(it->second);
    if (!q.state) {
      return respond(ErrorResponse(
          Status::Malformed("state must be a session state, got '" + it->second + "'", "?state")));
    }
  }
  ctx.store.ListSessions(
      std::move(q), Answer<storage::Page<storage::SessionRecord>>(
                        respond, [budget = ctx.options.max_page_bytes](
                                     const storage::Page<storage::SessionRecord>& p) {
                          return TextJsonResponse(200, PageJsonText(p, SessionSummaryJson, budget));
                        }));
}

// The batch and its spec are read first, so that a missing batch is a 404 (not a 200 cut off),
// and the spec is parsed once for the whole export.
void GetBatchResults(const ApiContext& ctx, HttpRequest& request, Responder respond) {
  Result<ResultsFormat> format = ParseResultsFormat(request);
  if (!format.ok()) return respond(ErrorResponse(format.status()));
  storage::Store& store = ctx.store;
  store.GetBatch(request.path_params.at("id"), [&store, format = *format,
                                                respond](Result<storage::BatchRecord> batch) {
    if (!batch.ok()) return respond(ErrorResponse(batch.status()));
    if (batch->state == BatchState::kEnqueuing) {
      // Its sessions are still being written: an export now would silently miss some.
      return respond(ErrorResponse(Status::Conflict(
          "batch " + batch->public_id + " is still enqueuing; export it once it is queued")));
    }
    store.GetBatchSpec(
        batch->id, [&store, format, id = batch->public_id, respond](Result<std::string> spec_json) {
          if (!spec_json.ok()) return respond(ErrorResponse(spec_json.status()));
          Result<BatchSpec> spec = ParseBatchSpec(*spec_json, BatchSpecLimits::Stored());
          if (!spec.ok()) {
            return respond(ErrorResponse(Status::Internal(
                "stored spec of batch " + id + " does not parse: " + spec.status().message())));
          }
          const BatchShape shape = BatchShape::Of(*spec);
          HttpResponse r;
          const bool csv = format == ResultsFormat::kCsv;
          r.content_type = csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson";
          r.headers.emplace_back(
              "Content-Disposition",
              "attachment; filename=\"batch-" + id + "-results." + (csv ? "csv" : "jsonl") + "\"");
          r.stream = MakeResultsStream(
              store, id, ResultsLayout{.spec = std::move(*spec), .shape = shape, .format = format});
          respond(std::move(r));
        });
  });
}

void GetSession(storage::Store& store, HttpRequest& request, Responder respond) {
  const std::string& text = request.path_params.at("id");
  std::optional<int64_t> id = ParsePositiveId(text);
  if (!id) return respond(ErrorResponse(Status::NotFound("no session with id " + text)));
  store.GetSession(*id,
                   Answer<storage::SessionDetail>(respond, [](const storage::SessionDetail& d) {
                     Result<nlohmann::json> body = SessionDetailJson(d);
                     return body.ok() ? JsonResponse(200, *body) : ErrorResponse(body.status());
                   }));
}

}  // namespace

void RegisterRoutes(Router& router, const ApiContext& ctx) {
  // `ctx` is copied into the handlers: its members are references to long-lived objects.
  router.Add("GET", "/healthz", [ctx](HttpRequest&, Responder respond) {
    const storage::StoreStats stats = ctx.store.Stats();
    // Degraded while the store cannot commit (or since it found its file damaged): a probe
    // then sees 503 and the reason, though reads and the rest of the API still answer.
    nlohmann::json body = {{"status", stats.degraded ? "degraded" : "ok"},
                           {"writer_queue", stats.writer_queue_depth},
                           {"reader_queue", stats.reader_queue_depth},
                           {"outcomes_unstored", stats.outcomes_unstored},
                           {"half_inserted_batches", stats.half_inserted_batches}};
    if (stats.degraded) body["reason"] = stats.degraded_reason;
    if (ctx.logs != nullptr) body["log_follows_waiting"] = ctx.logs->WaitingFollows();
    if (ctx.events != nullptr) {
      const EventHub::Stats events = ctx.events->GetStats();
      body["events"] = {{"subscribers", events.subscribers},
                        {"latest_seq", events.latest_seq},
                        {"slow_consumers_closed", events.slow_consumers_closed}};
    }
    respond(JsonResponse(stats.degraded ? 503 : 200, body));
  });
  router.Add("POST", "/api/v1/batches",
             [ctx](HttpRequest& r, Responder done) { SubmitBatch(ctx, r, std::move(done)); });
  router.Add("GET", "/api/v1/batches",
             [ctx](HttpRequest& r, Responder done) { ListBatches(ctx, r, std::move(done)); });
  router.Add("GET", "/api/v1/batches/{id}",
             [ctx](HttpRequest& r, Responder done) { GetBatch(ctx.store, r, std::move(done)); });
  router.Add("GET", "/api/v1/batches/{id}/sessions",
             [ctx](HttpRequest& r, Responder done) { ListSessions(ctx, r, std::move(done)); });
  router.Add("GET", "/api/v1/batches/{id}/results",
             [ctx](HttpRequest& r, Responder done) { GetBatchResults(ctx, r, std::move(done)); });
  router.Add("GET", "/api/v1/sessions/{id}",
             [ctx](HttpRequest& r, Responder done) { GetSession(ctx.store, r, std::move(done)); });
  RegisterLifecycleRoutes(router, ctx);
  RegisterEventRoutes(router, ctx);
  RegisterNodeRoutes(router, ctx);
  RegisterLogRoute(router, ctx);
  RegisterMetricsRoute(router, ctx);
  RegisterStaticRoutes(router);
  RegisterOpenApiRoute(router);
}

}  // namespace batchd::api
