#include "api/event_json.h"

#include "api/json_views.h"

namespace batchd::api {
namespace {

using storage::EventType;

nlohmann::json CountsJson(const storage::SessionCounts& c) {
  return {{"uninitialized", c.uninitialized},
          {"in_progress", c.in_progress},
          {"completed", c.completed},
          {"error", c.error},
          {"canceled", c.canceled}};
}

template <typename T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json TimeOrNull(const std::optional<int64_t>& ms) {
  return ms ? nlohmann::json(FormatUtcMillis(*ms)) : nlohmann::json();
}

// Counters, session count and the state, shared by every batch.* event.
void AddBatchFields(const storage::EventRecord& e, nlohmann::json& out) {
  if (e.sessions) out["sessions"] = *e.sessions;
  if (e.counts) out["counts"] = CountsJson(*e.counts);
}

}  // namespace

nlohmann::json EventJson(const storage::EventRecord& e) {
  nlohmann::json out = {{"seq", e.seq},
                        {"type", storage::EventTypeName(e.type)},
                        {"time", FormatUtcMillis(e.time_ms)},
                        {"batch", e.batch_public_id}};
  switch (e.type) {
    case EventType::kBatchEnqueued:
      out["name"] = e.batch_name;
      out["state"] = e.to;
      AddBatchFields(e, out);
      break;
    case EventType::kBatchState:
      out["name"] = e.batch_name;
      out["from"] = e.from;
      out["to"] = e.to;
      out["state"] = e.to;
      AddBatchFields(e, out);
      out["finished_at"] = TimeOrNull(e.finished_at_ms);
      break;
    case EventType::kBatchFinished:
      out["name"] = e.batch_name;
      out["state"] = e.to;
      AddBatchFields(e, out);
      out["finished_at"] = TimeOrNull(e.finished_at_ms);
      out["result"] = nullptr;  // the aggregated result, once ops produce one
      break;
    case EventType::kBatchDeleted:
      out["name"] = e.batch_name;
      out["state"] = e.from;  // the state it was deleted in
      AddBatchFields(e, out);
      break;
    case EventType::kBatchProgress: {
      out["state"] = e.to;
      AddBatchFields(e, out);
      if (e.counts) out["done"] = e.counts->completed + e.counts->error + e.counts->canceled;
      out["sessions_per_s"] = OrNull(e.sessions_per_s);
      out["eta_s"] = OrNull(e.eta_s);
      out["chunks_per_s"] = OrNull(e.chunks_per_s);
      out["bytes_per_s"] = OrNull(e.bytes_per_s);
      out["session_events_suppressed"] = e.suppressed_session_events.value_or(0);
      break;
    }
    case EventType::kSessionState:
      out["session"] = OrNull(e.session_id);
      out["from"] = e.from;
      out["to"] = e.to;
      out["attempt"] = OrNull(e.attempt);
      out["error"] = e.error_kind.empty()
                         ? nlohmann::json()
                         : nlohmann::json{{"kind", e.error_kind}, {"message", e.error_message}};
      out["retry_at"] = TimeOrNull(e.retry_at_ms);
      break;
    case EventType::kSessionProgress: {
      out["session"] = OrNull(e.session_id);
      out["chunks_done"] = OrNull(e.chunks_done);
      out["chunks_total"] = OrNull(e.chunks_total);
      out["bytes_done"] = OrNull(e.bytes_done);
      nlohmann::json ranges;  // null: no map
      if (e.done_ranges) {
        ranges = nlohmann::json::array();
        for (const auto& [first, last] : *e.done_ranges) ranges.push_back({first, last});
      }
      out["done_ranges"] = std::move(ranges);
      break;
    }
  }
  return out;
}

nlohmann::json HelloJson(int64_t latest_seq, std::optional<int64_t> since) {
  return {{"type", "hello"}, {"latest_seq", latest_seq}, {"since", OrNull(since)}};
}

nlohmann::json ResyncJson(int64_t since, int64_t oldest_seq, int64_t latest_seq) {
  std::string why =
      since > latest_seq
          ? "seq " + std::to_string(since) + " is ahead of this daemon's event log (latest " +
                std::to_string(latest_seq) + "): the log was reset or belongs to another daemon"
          : "events after seq " + std::to_string(since) +
                " are no longer kept (the oldest kept is " + std::to_string(oldest_seq) + ")";
  return {{"type", "resync"},
          {"since", since},
          {"oldest_seq", oldest_seq},
          {"latest_seq", latest_seq},
          {"message", why + "; refetch state over the REST API; live events after seq " +
                          std::to_string(latest_seq) + " follow"}};
}

nlohmann::json CaughtUpJson(int64_t seq) { return {{"type", "caught_up"}, {"latest_seq", seq}}; }

}  // namespace batchd::api
