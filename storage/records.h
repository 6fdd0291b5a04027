// Plain records that cross the storage boundary. No SQLite, no JSON: the API layer renders them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch_state.h"

namespace batchd::storage {

// Stored as a small integer in session.state; the values are part of the on-disk format.
enum class SessionState : int {
  kUninitialized = 0,
  kInProgress = 1,
  kCompleted = 2,
  kError = 3,
  kCanceled = 4,
};
inline constexpr int kSessionStateCount = 5;

const char* SessionStateName(SessionState state);  // "uninitialized", "in_progress", ...
std::optional<SessionState> ParseSessionState(std::string_view name);

// Stored as its name in batch.state (core/batch_state.h).
using ::batchd::BatchState;
using ::batchd::BatchStateName;
using ::batchd::IsFinished;
using ::batchd::ParseBatchState;

struct SessionCounts {
  int64_t uninitialized = 0;
  int64_t in_progress = 0;
  int64_t completed = 0;
  int64_t error = 0;
  int64_t canceled = 0;

  int64_t Total() const { return uninitialized + in_progress + completed + error + canceled; }
  friend bool operator==(const SessionCounts&, const SessionCounts&) = default;
};

// A validated batch ready to be stored. The caller (the API) has validated the spec and
// computed its shape; storage only persists it.
struct NewBatch {
  std::string name;
  int64_t priority = 0;
  int64_t runs = 1;
  std::optional<int64_t> max_running;
  int64_t max_attempts = 3;
  std::string spec_json;                // canonical JSON of the whole batch document
  std::vector<uint64_t> group_lengths;  // the mixed-radix shape (runs excluded)
  uint64_t session_count = 0;           // product of group_lengths times runs, >= 1
};

struct BatchCreated {
  int64_t id = 0;
  std::string public_id;
  uint64_t sessions = 0;
  double enqueue_ms = 0;  // from the writer picking the batch up to its last slice committed
};

struct BatchRecord {
  int64_t id = 0;
  std::string public_id;
  std::string name;
  int64_t priority = 0;
  int64_t runs = 1;
  std::optional<int64_t> max_running;
  int64_t max_attempts = 3;
  BatchState state = BatchState::kQueued;
  uint64_t session_count = 0;
  int64_t first_session_id = 0;
  std::vector<uint64_t> group_lengths;
  SessionCounts counts;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  // The completed sessions' results folded together (JSON), if their op folds results.
  std::optional<std::string> result_json;
  // The event log's latest seq in the snapshot this record was read from: events with a higher
  // seq describe later changes (how a client merges a REST read with the event stream).
  int64_t event_seq = 0;
};

struct SessionRecord {
  int64_t id = 0;
  int64_t batch_id = 0;
  std::string batch_public_id;
  uint64_t ordinal = 0;
  SessionState state = SessionState::kUninitialized;
  int64_t attempts = 0;
};

// What session_state holds once a session has been dequeued.
struct ExecutionRecord {
  std::string state_json;  // the execution state, decompressed
  int64_t chunks_done = 0;
  int64_t chunks_total = 0;
  std::optional<std::string> result_json;
  std::optional<std::string> error_kind;  // "transient", "permanent", "canceled"
  std::optional<std::string> error_message;
  // Where a chunk session stands (JSON, opaque to storage): handed back when it resumes.
  std::optional<std::string> checkpoint_json;
};

// A running session's checkpoint (Store::SaveCheckpoint), saved so that it can resume there.
struct CheckpointUpdate {
  int64_t session_id = 0;
  int64_t chunks_done = 0;
  int64_t chunks_total = 0;
  std::string checkpoint_json;
};

// A session together with what is needed to derive its index and values.
struct SessionDetail {
  SessionRecord session;
  BatchRecord batch;
  std::string spec_json;                     // the batch's canonical JSON, decompressed
  std::optional<ExecutionRecord> execution;  // nullopt until the session is first dequeued
};

// A session the scheduler has just moved to in_progress.
struct ClaimedSession {
  int64_t id = 0;
  int64_t batch_id = 0;
  std::string batch_public_id;
  uint64_t ordinal = 0;
  int64_t attempts = 0;  // including this start
  int64_t max_attempts = 3;
  // Set when the session ran before (retry, crash recovery): its state is reused as is.
  // Shared, not inline: a claim moves thousands of these between threads, nearly all fresh.
  std::shared_ptr<const ExecutionRecord> execution;
};

struct ClaimResult {
  std::vector<ClaimedSession> sessions;
  // The earliest time a session waiting out a retry backoff becomes claimable, if any.
  std::optional<int64_t> next_due_ms;
};

// How a claimed session left in_progress. Applied only if it is still in_progress, so a
// duplicate or late outcome never counts twice.
struct SessionOutcome {
  enum class Target {
    kCompleted,  // -> completed
    kError,      // -> error, with error_kind/error_message
    kCanceled,   // -> canceled
    kRequeue,    // -> uninitialized, claimable from not_before_ms (retry backoff, shutdown)
  };
  int64_t session_id = 0;
  int64_t batch_id = 0;
  Target target = Target::kCompleted;
  std::optional<std::string> result_json;
  // The op that produced result_json; the store's ResultMerger folds it into the batch's
  // result under this name. Empty when there is no result.
  std::string op;
  std::string error_kind;
  std::string error_message;
  int64_t not_before_ms = 0;  // kRequeue only
  int64_t finished_at_ms = 0;
};

// The state an outcome moves its session to.
SessionState TargetState(SessionOutcome::Target target);

// Totals over every batch (from the counters, never COUNT(*)).
struct QueueStatus {
  SessionCounts counts;
  bool paused = false;
  int64_t batches_active = 0;  // queued, running or paused
};

// One page of a keyset-paginated listing. `next_cursor` is the id to pass as `after` to get
// the following page; nullopt on the last page.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<int64_t> next_cursor;
};

// Batches are listed newest first.
struct BatchListQuery {
  std::optional<BatchState> state;
  std::optional<int64_t> before_id;  // cursor: only batches with id < before_id
  int limit = 50;
  // The page ends before `limit` batches once the text they hold (names, results) would pass
  // this many bytes; it always holds at least one batch, so paging advances. A page cut short
  // has a next_cursor like a full one.
  size_t max_bytes = SIZE_MAX;
};

// One session as the results export shows it (docs/api.md "Results"): where it sits in its
// batch and how it ended. The result and error are empty until the session has been dequeued.
struct SessionResultRow {
  int64_t id = 0;
  uint64_t ordinal = 0;
  SessionState state = SessionState::kUninitialized;
  int64_t attempts = 0;
  std::optional<std::string> result_json;
  std::optional<std::string> error_kind;
  std::optional<std::string> error_message;
};

// A page of a batch's sessions with their results, in id (= ordinal) order.
struct SessionResultsQuery {
  std::string batch_public_id;
  std::optional<int64_t> after_id;  // cursor: only sessions with id > after_id
  int limit = 1000;
  // The page ends before `limit` rows once their results and error messages would pass this
  // many bytes (a checksum manifest can be large); it always holds at least one row, so paging
  // advances, and a page cut short has a next_cursor like a full one.
  size_t max_bytes = SIZE_MAX;
};

// Sessions are listed in id (= ordinal) order.
struct SessionListQuery {
  std::string batch_public_id;
  std::optional<SessionState> state;
  std::optional<int64_t> after_id;  // cursor: only sessions with id > after_id
  int limit = 100;
};

// What a node (one daemon) tells the others about itself; the embedded store has one node.
struct NodeIdentity {
  std::string name;    // unique among live nodes; a restarted node keeps its name
  std::string host;    // the machine's host name
  std::string listen;  // the API's address, host:port
  int slots = 1;       // sessions it runs at once at most
};

// A node as GET /api/v1/nodes shows it.
struct NodeRecord {
  int64_t id = 0;
  NodeIdentity identity;
  int64_t started_at_ms = 0;
  int64_t heartbeat_at_ms = 0;
  std::string state;    // alive | dead | stopped
  int64_t running = 0;  // sessions in progress on it
  std::optional<int64_t> ended_at_ms;
  std::optional<int64_t> rescued_by;  // the node that requeued its sessions
  int64_t rescued = 0;                // how many
};

}  // namespace batchd::storage
