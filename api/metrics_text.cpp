#include "api/metrics_text.h"

#include "core/prometheus_text.h"

namespace batchd::api {
namespace {

using MT = MetricType;

void Gauge(PrometheusText& out, std::string_view name, std::string_view help, int64_t value) {
  out.Family(name, MT::kGauge, help);
  out.Sample(value);
}

void Counter(PrometheusText& out, std::string_view name, std::string_view help, int64_t value) {
  out.Family(name, MT::kCounter, help);
  out.Sample(value);
}

void WriteQueue(PrometheusText& out, const storage::QueueStatus& q) {
  const storage::SessionCounts& c = q.counts;
  out.Family("batchd_sessions", MT::kGauge,
             "Sessions by state, from the batches' counters (batches still enqueuing excluded).");
  out.Sample({{"state", "uninitialized"}}, c.uninitialized);
  out.Sample({{"state", "in_progress"}}, c.in_progress);
  out.Sample({{"state", "completed"}}, c.completed);
  out.Sample({{"state", "error"}}, c.error);
  out.Sample({{"state", "canceled"}}, c.canceled);
  Gauge(out, "batchd_queue_depth",
        "Sessions waiting to be claimed: the uninitialized ones (of paused batches too).",
        c.uninitialized);
  Gauge(out, "batchd_batches_active", "Batches queued, running or paused.", q.batches_active);
  Gauge(out, "batchd_queue_paused", "1 while the whole queue is paused (POST /api/v1/queue/pause).",
        q.paused ? 1 : 0);
}

// Every node scrapes the same node table, so each one's /metrics shows the whole cluster's
// nodes by state; a dashboard sums nothing across nodes for it.
void WriteNodes(PrometheusText& out, const std::vector<storage::NodeRecord>& nodes) {
  int64_t alive = 0, dead = 0, stopped = 0, running = 0;
  for (const storage::NodeRecord& n : nodes) {
    if (n.state == "alive") {
      ++alive;
      running += n.running;
    } else if (n.state == "dead") {
      ++dead;
    } else {
      ++stopped;
    }
  }
  out.Family("batchd_nodes", MT::kGauge,
             "Daemons attached to the store by state (GET /api/v1/nodes; 1 alive for SQLite).");
  out.Sample({{"state", "alive"}}, alive);
  out.Sample({{"state", "dead"}}, dead);
  out.Sample({{"state", "stopped"}}, stopped);
  Gauge(out, "batchd_nodes_running_sessions",
        "Sessions in progress on the alive nodes, over all nodes.", running);
}

void WriteScheduler(PrometheusText& out, const SchedulerStats& s) {
  Gauge(out, "batchd_scheduler_slots", "Sessions that may be in progress at once (--slots).",
        s.slots);
  Gauge(out, "batchd_scheduler_slots_busy", "Slots holding a session now.", s.running);
  Counter(out, "batchd_scheduler_claims_total",
          "Claim transactions answered (each claims up to the free slots).", s.claims);
  Counter(out, "batchd_scheduler_claim_failures_total", "Claim transactions the store failed.",
          s.claim_failures);
  Counter(out, "batchd_sessions_claimed_total", "Sessions claimed (moved to in_progress).",
          s.sessions_claimed);
  out.Family("batchd_session_outcomes_total", MT::kCounter,
             "Session outcomes handed to the store, by where they send the session.");
  out.Sample({{"outcome", "completed"}}, s.outcomes_completed);
  out.Sample({{"outcome", "error"}}, s.outcomes_error);
  out.Sample({{"outcome", "canceled"}}, s.outcomes_canceled);
  out.Sample({{"outcome", "requeued"}}, s.outcomes_requeued);
  out.Family("batchd_scheduler_sessions_per_second", MT::kGauge,
             "Sessions finished per second over the last 5 whole seconds.");
  out.Sample(s.sessions_per_s);
}

void WritePipeline(PrometheusText& out, const PipelineFigures& p) {
  out.Family("batchd_chunks_total", MT::kCounter,
             "Chunks through the chunk pipeline, by result: done (decoded and processed), failed "
             "(their session failed), dropped (their session was canceled or failed first).");
  out.Sample({{"result", "done"}}, p.chunks_done);
  out.Sample({{"result", "failed"}}, p.chunks_failed);
  out.Sample({{"result", "dropped"}}, p.chunks_dropped);
  Counter(out, "batchd_chunk_bytes_read_total", "Encoded chunk bytes read from stores.",
          p.bytes_read);
  Counter(out, "batchd_chunk_bytes_decoded_total", "Decoded bytes of the chunks done.",
          p.bytes_decoded);
  // Sums of sharded gauges can read a little below zero while chunks move; never report that.
  Gauge(out, "batchd_chunk_bytes_in_flight",
        "Byte budget held by chunks between the start of their read and the end of their "
        "processing, over all sessions.",
        std::max<int64_t>(0, p.bytes_in_flight));
  Gauge(out, "batchd_chunk_reads_in_flight", "Chunk store reads issued and not yet answered.",
        std::max<int64_t>(0, p.reads_in_flight));
  Gauge(out, "batchd_chunk_pipelines_running", "Sessions running a chunk pipeline.",
        std::max<int64_t>(0, p.pipelines_running));
}

void WriteEvents(PrometheusText& out, const EventHub::Stats& e) {
  Gauge(out, "batchd_websocket_clients", "WebSocket event stream subscribers connected.",
        static_cast<int64_t>(e.subscribers));
  Counter(out, "batchd_websocket_subscriptions_total", "WebSocket event streams accepted.",
          e.subscriptions);
  Counter(out, "batchd_websocket_slow_consumers_closed_total",
          "Event streams closed because their client fell too far behind (4001).",
          e.slow_consumers_closed);
  Counter(out, "batchd_events_published_total", "Committed events offered to the subscribers.",
          e.events_published);
  Gauge(out, "batchd_event_seq", "The latest published event's seq.", e.latest_seq);
}

void WriteStore(PrometheusText& out, const storage::StoreStats& s) {
  Gauge(out, "batchd_sqlite_writer_queue_depth",
        "Jobs waiting for the single SQLite writer (remaining slices of large inserts included).",
        static_cast<int64_t>(s.writer_queue_depth));
  Gauge(out, "batchd_sqlite_reader_queue_depth", "Queries waiting for a reader connection.",
        static_cast<int64_t>(s.reader_queue_depth));
  Counter(out, "batchd_sqlite_commits_total", "Writer transactions committed (group commits).",
          s.writer_commits);
  Counter(out, "batchd_sqlite_commit_failures_total", "Writer transactions that failed to commit.",
          s.writer_commit_failures);
  out.Family(
      "batchd_store_commit_failures_total", MT::kCounter,
      "Writes the store could not commit, by SQLite's cause: a failed COMMIT, or a write job "
      "step that failed in SQLite (its job rolled back).");
  for (size_t c = 0; c < storage::kStoreFailureCauses; ++c) {
    out.Sample(
        {{"cause", storage::StoreFailureCauseName(static_cast<storage::StoreFailureCause>(c))}},
        s.commit_failures_by_cause[c]);
  }
  Gauge(out, "batchd_store_degraded",
        "1 while the store cannot commit, or since it found its database damaged (/healthz says "
        "why).",
        s.degraded ? 1 : 0);
  Gauge(out, "batchd_store_outcomes_unstored",
        "Session outcomes and states kept for another try because their write could not commit.",
        s.outcomes_unstored);
  Gauge(out, "batchd_store_half_inserted_batches",
        "Batches whose insert failed part-way, waiting for their rows to be removed.",
        s.half_inserted_batches);
  Counter(out, "batchd_sqlite_writer_steps_total",
          "Write job steps run; divided by commits, the jobs per group commit.", s.writer_steps);
  out.Family("batchd_sqlite_commit_duration_seconds", MT::kHistogram,
             "Time of the writer's COMMIT statement.");
  out.Histogram({}, s.commit_latency);
  out.Family("batchd_sqlite_transaction_duration_seconds", MT::kHistogram,
             "Time of a writer round, BEGIN to COMMIT done, with every job step in it.");
  out.Histogram({}, s.transaction_latency);
  Counter(out, "batchd_sqlite_reader_queries_total", "Queries run on the reader connections.",
          s.reader_queries);
}

void WriteProcess(PrometheusText& out, const ProcessStats& p) {
  Gauge(out, "process_resident_memory_bytes", "Resident set size.", p.resident_bytes);
  Gauge(out, "process_virtual_memory_bytes", "Virtual memory size.", p.virtual_bytes);
  out.Family("process_cpu_seconds_total", MT::kCounter, "User and system CPU time.");
  out.Sample(p.cpu_seconds);
  out.Family("process_start_time_seconds", MT::kGauge, "Start time, unix seconds.");
  out.Sample(p.start_time_s);
  Gauge(out, "process_open_fds", "Open file descriptors.", p.open_fds);
  Gauge(out, "process_threads", "Threads.", p.threads);
}

}  // namespace

std::string MetricsText(const MetricsSnapshot& s) {
  PrometheusText out;
  out.Family("batchd_build_info", MT::kGauge, "Always 1; the version is a label.");
  out.Sample({{"version", s.version}}, int64_t{1});
  if (s.queue) WriteQueue(out, *s.queue);
  if (s.nodes) WriteNodes(out, *s.nodes);
  WriteScheduler(out, s.scheduler);
  WritePipeline(out, s.pipeline);
  if (s.http) s.http->Write(out);
  if (s.events) WriteEvents(out, *s.events);
  WriteStore(out, s.store);
  if (s.process) WriteProcess(out, *s.process);
  return out.Take();
}

}  // namespace batchd::api
