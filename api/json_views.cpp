#include "api/json_views.h"

#include <ctime>

#include "core/batch_expansion.h"
#include "core/batch_spec.h"

namespace batchd::api {

std::string FormatUtcMillis(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(unix_ms % 1000));
  return out;
}

nlohmann::json BatchJson(const storage::BatchRecord& b) {
  const storage::SessionCounts& c = b.counts;
  return {
      {"id", b.public_id},
      {"name", b.name},
      {"state", storage::BatchStateName(b.state)},
      {"priority", b.priority},
      {"runs", b.runs},
      {"max_running", b.max_running ? nlohmann::json(*b.max_running) : nlohmann::json()},
      {"max_attempts", b.max_attempts},
      {"sessions", b.session_count},
      {"counts",
       {{"uninitialized", c.uninitialized},
        {"in_progress", c.in_progress},
        {"completed", c.completed},
        {"error", c.error},
        {"canceled", c.canceled}}},
      {"created_at", FormatUtcMillis(b.created_at_ms)},
      {"finished_at",
       b.finished_at_ms ? nlohmann::json(FormatUtcMillis(*b.finished_at_ms)) : nlohmann::json()},
      {"result",
       b.result_json ? nlohmann::json::parse(*b.result_json, nullptr, false) : nlohmann::json()},
      {"event_seq", b.event_seq},
  };
}

nlohmann::json SessionSummaryJson(const storage::SessionRecord& s) {
  return {{"id", s.id},
          {"batch_id", s.batch_public_id},
          {"ordinal", s.ordinal},
          {"state", storage::SessionStateName(s.state)},
          {"attempts", s.attempts}};
}

Result<nlohmann::json> SessionDetailJson(const storage::SessionDetail& detail) {
  Result<BatchSpec> spec = ParseBatchSpec(detail.spec_json, BatchSpecLimits::Stored());
  if (!spec.ok()) {
    return Status::Internal("stored spec of batch " + detail.batch.public_id +
                            " does not parse: " + spec.status().message());
  }
  const SessionIndex index = IndexOfOrdinal(BatchShape::Of(*spec), detail.session.ordinal);
  nlohmann::json out = SessionSummaryJson(detail.session);
  out["run"] = index.run;
  out["index"] = index.index;
  out["values"] = SessionValues(*spec, index);
  out["execution_state"] = nullptr;
  out["progress"] = nullptr;
  out["result"] = nullptr;
  out["error"] = nullptr;
  if (const auto& e = detail.execution) {
    if (!e->state_json.empty()) {
      out["execution_state"] = nlohmann::json::parse(e->state_json, nullptr, false);
    }
    out["progress"] = {{"chunks_done", e->chunks_done}, {"chunks_total", e->chunks_total}};
    if (e->result_json) out["result"] = nlohmann::json::parse(*e->result_json, nullptr, false);
    if (e->error_kind) {
      out["error"] = {{"kind", *e->error_kind}, {"message", e->error_message.value_or("")}};
    }
  }
  return out;
}

}  // namespace batchd::api
