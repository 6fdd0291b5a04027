// Plain records that cross the storage boundary. No SQLite, no JSON: the API layer renders them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Stored as its name in batch.state.
enum class BatchState { kEnqueuing, kQueued, kRunning, kPaused, kCompleted, kFailed, kCanceled };

const char* BatchStateName(BatchState state);  // "enqueuing", "queued", ...
std::optional<BatchState> ParseBatchState(std::string_view name);

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
};

struct SessionRecord {
  int64_t id = 0;
  int64_t batch_id = 0;
  std::string batch_public_id;
  uint64_t ordinal = 0;
  SessionState state = SessionState::kUninitialized;
  int64_t attempts = 0;
};

// A session together with what is needed to derive its index and values.
struct SessionDetail {
  SessionRecord session;
  BatchRecord batch;
  std::string spec_json;  // the batch's canonical JSON, decompressed
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
};

// Sessions are listed in id (= ordinal) order.
struct SessionListQuery {
  std::string batch_public_id;
  std::optional<SessionState> state;
  std::optional<int64_t> after_id;  // cursor: only sessions with id > after_id
  int limit = 100;
};

}  // namespace batchd::storage
