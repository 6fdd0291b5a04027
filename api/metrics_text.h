// What GET /metrics says (docs/metrics.md lists every metric, its type and labels): the
// daemon's figures, gathered by the route into a MetricsSnapshot, rendered here as Prometheus
// text. Knows neither Beast nor SQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/event_hub.h"
#include "api/http_metrics.h"
#include "api/scheduler_control.h"
#include "core/process_stats.h"
#include "storage/records.h"
#include "storage/store.h"

namespace batchd::api {

// The chunk pipeline's process-wide counters, read (pipeline/engine/chunk_pipeline_stats.h).
struct PipelineFigures {
  int64_t chunks_done = 0;
  int64_t chunks_failed = 0;
  int64_t chunks_dropped = 0;
  int64_t bytes_read = 0;
  int64_t bytes_decoded = 0;
  int64_t bytes_in_flight = 0;
  int64_t reads_in_flight = 0;
  int64_t pipelines_running = 0;
};

struct MetricsSnapshot {
  std::string version;
  // Session counts by state from the batches' counters; nullopt when the store could not
  // answer (the scrape still succeeds, without those families).
  std::optional<storage::QueueStatus> queue;
  storage::StoreStats store;
  SchedulerStats scheduler;
  std::optional<EventHub::Stats> events;  // nullopt without an event hub
  PipelineFigures pipeline;
  std::optional<ProcessStats> process;  // nullopt if /proc could not be read
  // The nodes attached to the store (Store::ListNodes); nullopt when it could not answer.
  std::optional<std::vector<storage::NodeRecord>> nodes;
  const HttpMetrics* http = nullptr;  // may be null
};

std::string MetricsText(const MetricsSnapshot& snapshot);

}  // namespace batchd::api
