// Lifecycle of batches and sessions (cancel, pause, resume, retry, delete) and of the queue.
// The store makes each change in one transaction; the scheduler is then told, so cancels reach
// running sessions and resumed or retried work is claimed at once.
#include <nlohmann/json.hpp>

#include "api/json_views.h"
#include "api/query_params.h"
#include "api/route_helpers.h"
#include "api/routes.h"

namespace batchd::api {
namespace {

nlohmann::json QueueJson(const storage::QueueStatus& q, const SchedulerStats& s) {
  return {{"paused", q.paused},
          {"counts",
           {{"uninitialized", q.counts.uninitialized},
            {"in_progress", q.counts.in_progress},
            {"completed", q.counts.completed},
            {"error", q.counts.error},
            {"canceled", q.counts.canceled}}},
          {"batches_active", q.batches_active},
          {"slots", s.slots},
          {"running", s.running},
          {"sessions_per_s", s.sessions_per_s},
          {"finished_total", s.finished_total}};
}

// Runs `op(id, callback)` on the batch named in the path and answers with the batch; `after`
// runs once the change is committed.
template <typename Op, typename After>
Handler BatchAction(const ApiContext& ctx, Op op, After after) {
  return [ctx, op, after](HttpRequest& r, Responder respond) {
    const std::string id = r.path_params.at("id");
    op(ctx, id, [ctx, id, after, respond](Result<storage::BatchRecord> b) {
      if (!b.ok()) return respond(ErrorResponse(b.status()));
      after(ctx, id);
      respond(JsonResponse(200, BatchJson(*b)));
    });
  };
}

// As BatchAction, for the session named in the path.
template <typename Op, typename After>
Handler SessionAction(const ApiContext& ctx, Op op, After after) {
  return [ctx, op, after](HttpRequest& r, Responder respond) {
    const std::string& text = r.path_params.at("id");
    std::optional<int64_t> id = ParsePositiveId(text);
    if (!id) return respond(ErrorResponse(Status::NotFound("no session with id " + text)));
    op(ctx, *id, [ctx, id = *id, after, respond](Result<storage::SessionRecord> s) {
      if (!s.ok()) return respond(ErrorResponse(s.status()));
      // A running session is canceled asynchronously: 202 says the cancel is on its way.
      const int status = after(ctx, id, *s);
      respond(JsonResponse(status, SessionSummaryJson(*s)));
    });
  };
}

void Nothing(const ApiContext&, const std::string&) {}
void WakeScheduler(const ApiContext& ctx, const std::string&) { ctx.scheduler.Wake(); }

Handler QueueAction(const ApiContext& ctx, std::optional<bool> pause) {
  return [ctx, pause](HttpRequest&, Responder respond) {
    auto answer = [ctx, pause, respond](Result<storage::QueueStatus> q) {
      if (!q.ok()) return respond(ErrorResponse(q.status()));
      if (pause == false) ctx.scheduler.Wake();
      respond(JsonResponse(200, QueueJson(*q, ctx.scheduler.Stats())));
    };
    if (pause) {
      ctx.store.SetQueuePaused(*pause, answer);
    } else {
      ctx.store.GetQueueStatus(answer);
    }
  };
}

}  // namespace

void RegisterLifecycleRoutes(Router& router, const ApiContext& ctx) {
  router.Add(
      "POST", "/api/v1/batches/{id}/cancel",
      BatchAction(
          ctx,
          [](const ApiContext& c, const std::string& id, auto done) {
            c.store.CancelBatch(id, done);
          },
          [](const ApiContext& c, const std::string& id) { c.scheduler.CancelRunningBatch(id); }));
  router.Add("POST", "/api/v1/batches/{id}/pause",
             BatchAction(
                 ctx,
                 [](const ApiContext& c, const std::string& id, auto done) {
                   c.store.SetBatchPaused(id, true, done);
                 },
                 Nothing));
  router.Add("POST", "/api/v1/batches/{id}/resume",
             BatchAction(
                 ctx,
                 [](const ApiContext& c, const std::string& id, auto done) {
                   c.store.SetBatchPaused(id, false, done);
                 },
                 WakeScheduler));
  router.Add("POST", "/api/v1/batches/{id}/retry",
             BatchAction(
                 ctx,
                 [](const ApiContext& c, const std::string& id, auto done) {
                   c.store.RetryBatch(id, c.clock(), done);
                 },
                 WakeScheduler));
  router.Add("DELETE", "/api/v1/batches/{id}", [ctx](HttpRequest& r, Responder respond) {
    const std::string id = r.path_params.at("id");
    ctx.store.DeleteBatch(id, Answer<uint64_t>(respond, [ctx, id](uint64_t sessions) {
                            ctx.scheduler.ForgetBatch(id);  // its spec is never needed again
                            if (ctx.logs != nullptr) ctx.logs->DeleteBatchLogs(id);
                            return JsonResponse(200, {{"deleted", id}, {"sessions", sessions}});
                          }));
  });

  router.Add(
      "POST", "/api/v1/sessions/{id}/cancel",
      SessionAction(
          ctx, [](const ApiContext& c, int64_t id, auto done) { c.store.CancelSession(id, done); },
          [](const ApiContext& c, int64_t id, const storage::SessionRecord& s) {
            if (s.state != storage::SessionState::kInProgress) return 200;
            c.scheduler.CancelRunningSession(id);
            return 202;
          }));
  router.Add("POST", "/api/v1/sessions/{id}/retry",
             SessionAction(
                 ctx,
                 [](const ApiContext& c, int64_t id, auto done) {
                   c.store.RetrySession(id, c.clock(), done);
                 },
                 [](const ApiContext& c, int64_t, const storage::SessionRecord&) {
                   c.scheduler.Wake();
                   return 200;
                 }));

  router.Add("GET", "/api/v1/queue", QueueAction(ctx, std::nullopt));
  router.Add("POST", "/api/v1/queue/pause", QueueAction(ctx, true));
  router.Add("POST", "/api/v1/queue/resume", QueueAction(ctx, false));
}

}  // namespace batchd::api
