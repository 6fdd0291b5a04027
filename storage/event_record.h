// Events as the log stores them (migrations/0004_events.sql): plain records, no SQL, no JSON.
// The API renders them for the wire (api/event_json.h); docs/api.md ("Events") has the contract
// and docs/schema.md the columns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/records.h"

namespace batchd::storage {

// Stored as its name in event.type; the names are part of the public contract.
enum class EventType {
  kBatchEnqueued,    // a batch is fully stored and queued
  kBatchState,       // a batch's state changed (from -> to)
  kBatchProgress,    // a batch's counters moved (coalesced: at most one per batch per tick)
  kBatchFinished,    // a batch reached completed, failed or canceled
  kBatchDeleted,     // a finished batch was removed
  kSessionState,     // a session changed state (only the transitions docs/api.md lists)
  kSessionProgress,  // a running session reported chunk progress (coalesced per tick)
};
inline constexpr int kEventTypeCount = 7;

const char* EventTypeName(EventType type);  // "batch.enqueued", ...
std::optional<EventType> ParseEventType(std::string_view name);

// A half-open range [first, last) of chunk indices.
using ChunkRange = std::pair<int64_t, int64_t>;

struct EventRecord {
  int64_t seq = 0;  // assigned by the log; 0 before it is stored
  int64_t time_ms = 0;
  EventType type = EventType::kBatchState;
  std::string batch_public_id;
  std::optional<int64_t> session_id;  // session.* events

  // batch.* events.
  std::string batch_name;
  std::string from;  // batch.state / session.state: the state left ("" if not applicable)
  std::string to;    // the state reached (batch.* : the batch's state now)
  std::optional<SessionCounts> counts;
  std::optional<uint64_t> sessions;
  std::optional<int64_t> finished_at_ms;

  // session.state.
  std::optional<int64_t> attempt;
  std::string error_kind;  // "" when the transition carries no error
  std::string error_message;
  std::optional<int64_t> retry_at_ms;

  // batch.progress.
  std::optional<double> sessions_per_s;
  std::optional<double> eta_s;
  std::optional<double> chunks_per_s;
  std::optional<double> bytes_per_s;
  std::optional<int64_t> suppressed_session_events;

  // session.progress.
  std::optional<int64_t> chunks_done;
  std::optional<int64_t> chunks_total;
  std::optional<int64_t> bytes_done;
  // The done chunks, or nullopt when the reporter gave no map or it had too many ranges.
  std::optional<std::vector<ChunkRange>> done_ranges;
};

// The session.state event of a session moving `from` -> `to` at attempt `attempt`, with the
// error and retry time of `outcome` when an outcome moved it (nullptr for claims, rescues and
// requests). Both engines' event writers make them here.
EventRecord SessionStateEvent(std::string batch_public_id, int64_t session_id, SessionState from,
                              SessionState to, int64_t attempt, const SessionOutcome* outcome,
                              int64_t now_ms);

// A session's live progress: what its op reports while it runs (Store::ReportLiveProgress),
// written as session.progress.
struct SessionLiveProgress {
  int64_t session_id = 0;
  std::string batch_public_id;
  int64_t chunks_done = 0;
  int64_t chunks_total = 0;
  int64_t bytes_done = 0;
  std::optional<std::vector<ChunkRange>> done_ranges;
};

// A replay read: stored events with seq > after_seq, oldest first.
struct EventQuery {
  int64_t after_seq = 0;
  std::optional<std::string> batch_public_id;  // only this batch's events
  std::optional<int64_t> session_id;           // only this session's events
  std::vector<EventType> types;                // empty: every type
  int limit = 256;
  // Instead of the oldest events after after_seq: the newest `limit` matching ones (still
  // returned oldest first). For "the last N progress events of this batch".
  bool tail = false;
  // The page ends before `limit` events once the text they hold (names, error messages, chunk
  // ranges) would pass this many bytes, with `more` set; it always holds at least one event,
  // so a reader advances. With `tail`, the newest events are the ones kept.
  size_t max_bytes = SIZE_MAX;
};

struct EventPage {
  std::vector<EventRecord> events;
  // The log's extent when the page was read, in the same snapshot: the oldest seq still kept
  // (latest_seq + 1 when the log is empty) and the newest seq ever handed out (0 if none).
  int64_t oldest_seq = 1;
  int64_t latest_seq = 0;
  // True when the page stopped at `limit` or `max_bytes`: more matching events follow.
  bool more = false;
};

// Encodes ranges as "0-99,120,122-127" (inclusive bounds, as a human reads them) and back.
// DecodeChunkRanges returns nullopt for text that is not of that form.
std::string EncodeChunkRanges(const std::vector<ChunkRange>& ranges);
std::optional<std::vector<ChunkRange>> DecodeChunkRanges(std::string_view text);

}  // namespace batchd::storage
