// GET /metrics: gathers the daemon's figures and answers them as Prometheus text
// (metrics_text.h). An ordinary route, so whatever guards the routes (auth) guards it too.
#include "api/metrics_text.h"
#include "api/routes.h"
#include "core/prometheus_text.h"
#include "pipeline/engine/chunk_pipeline_stats.h"

namespace batchd::api {
namespace {

PipelineFigures ReadPipelineFigures() {
  const pipeline::ChunkPipelineStats& p = pipeline::GlobalChunkPipelineStats();
  return {.chunks_done = p.chunks_done.Value(),
          .chunks_failed = p.chunks_failed.Value(),
          .chunks_dropped = p.chunks_dropped.Value(),
          .bytes_read = p.bytes_read.Value(),
          .bytes_decoded = p.bytes_decoded.Value(),
          .bytes_in_flight = p.bytes_in_flight.Value(),
          .reads_in_flight = p.reads_in_flight.Value(),
          .pipelines_running = p.pipelines_running.Value()};
}

HttpResponse Render(const ApiContext& ctx, const Router& router,
                    const Result<storage::QueueStatus>& queue,
                    Result<std::vector<storage::NodeRecord>> nodes) {
  MetricsSnapshot s;
  s.version = BATCHD_VERSION;
  if (queue.ok()) s.queue = *queue;
  if (nodes.ok()) s.nodes = std::move(*nodes);
  s.store = ctx.store.Stats();
  s.scheduler = ctx.scheduler.Stats();
  if (ctx.events != nullptr) s.events = ctx.events->GetStats();
  s.pipeline = ReadPipelineFigures();
  if (Result<ProcessStats> p = ReadProcessStats(); p.ok()) s.process = *p;
  s.http = &router.metrics();
  HttpResponse r;
  r.content_type = kPrometheusTextContentType;
  r.body = MetricsText(s);
  return r;
}

}  // namespace

void RegisterMetricsRoute(Router& router, const ApiContext& ctx) {
  // The sessions by state are a read (a sum over the batch rows' counters) on the reader pool,
  // then the node table; the rest is atomics and small locks, gathered and rendered on that
  // reader thread too.
  router.Add("GET", "/metrics", [ctx, r = &router](HttpRequest&, Responder respond) {
    ctx.store.GetQueueStatus([ctx, r, respond](Result<storage::QueueStatus> queue) {
      ctx.store.ListNodes([ctx, r, respond, queue](Result<std::vector<storage::NodeRecord>> nodes) {
        respond(Render(ctx, *r, queue, std::move(nodes)));
      });
    });
  });
}

}  // namespace batchd::api
