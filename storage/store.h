// The state store behind the API and (later) the scheduler. SqliteStore is the embedded
// implementation; the interface is written so a PostgreSQL store could stand behind it.
//
// Threading contract: every method returns at once and never touches the database on the
// caller's thread. The work runs on a storage thread (the single writer for mutations, a
// reader pool for queries) and `done` is invoked exactly once, on that storage thread, with
// the result. `done` must not block; an API layer posts it back to its own executor.
// When a queue is full or the store is closing, `done` receives kUnavailable at once (on the
// caller's thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/latency_histogram.h"
#include "core/status.h"
#include "storage/crash_policy.h"
#include "storage/event_log_options.h"
#include "storage/event_record.h"
#include "storage/records.h"
#include "storage/store_health.h"

namespace batchd::storage {

template <typename T>
using Callback = std::function<void(Result<T>)>;

// Point-in-time figures for health checks and metrics (docs/metrics.md). Cheap: no query.
struct StoreStats {
  size_t writer_queue_depth = 0;
  size_t reader_queue_depth = 0;
  int64_t writer_commits = 0;
  int64_t writer_commit_failures = 0;
  int64_t writer_steps = 0;
  LatencyHistogram::Snapshot commit_latency;       // the COMMIT statement
  LatencyHistogram::Snapshot transaction_latency;  // a whole group-commit round
  int64_t reader_queries = 0;                      // queries run by the reader pool
  // Whether writes fail (storage/store_health.h): degraded, with the reason, from a failed
  // write until a transaction that changed rows commits again (for a damaged database, until
  // the restart); and the writes that failed since the start, by cause (StoreFailureCause).
  bool degraded = false;
  std::string degraded_reason;
  std::array<int64_t, kStoreFailureCauses> commit_failures_by_cause{};
  // Finished sessions' outcomes (and saved states) kept for another try because their flush
  // could not commit; claims wait while there are any.
  int64_t outcomes_unstored = 0;
  // Batches whose insert failed part-way and whose committed rows still wait to be removed.
  int64_t half_inserted_batches = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores the batch and all its sessions as `uninitialized`. The batch is `enqueuing` (hidden
  // from the scheduler) until its last session is in, then `queued`. Large batches are written
  // in bounded slices so other writes interleave. If the daemon dies mid-way, the partial batch
  // is removed at the next open; if the insert fails at run time (a full disk), the committed
  // slices are removed as soon as the database can commit again. Fails with kLimitExceeded, writing
  // nothing, when the store's limit of active batches (not finished: enqueuing, queued, running,
  // paused) is reached, and with kInternal/kIoError on SQLite errors.
  virtual void CreateBatch(NewBatch batch, Callback<BatchCreated> done) = 0;

  virtual void ListBatches(BatchListQuery query, Callback<Page<BatchRecord>> done) = 0;

  // kNotFound if no batch has this public id.
  virtual void GetBatch(std::string public_id, Callback<BatchRecord> done) = 0;

  // kNotFound if the batch does not exist.
  virtual void ListSessions(SessionListQuery query, Callback<Page<SessionRecord>> done) = 0;

  // One page of a batch's sessions with their results and errors (the results export reads a
  // whole batch this way, page after page, so its memory stays that of one page).
  // kNotFound if the batch does not exist.
  virtual void ListSessionResults(SessionResultsQuery query,
                                  Callback<Page<SessionResultRow>> done) = 0;

  // kNotFound if no session has this id (or its batch is still enqueuing).
  virtual void GetSession(int64_t session_id, Callback<SessionDetail> done) = 0;

  // --- Scheduling (used by the scheduler only) ---

  // Moves up to `max_sessions` claimable sessions to in_progress in one transaction: batches
  // `queued` or `running` (not paused), highest priority first, then oldest; within a batch,
  // sessions waiting out a retry (not_before <= now_ms) first, then fresh ones in id order;
  // never more than a batch's max_running in progress. attempts += 1 for each.
  virtual void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) = 0;

  // Records a dequeued session's execution state (creating its session_state row). Buffered
  // and group-committed with other state and outcome writes, in call order.
  virtual void SaveExecutionState(int64_t session_id, std::string state_json,
                                  int64_t started_at_ms) = 0;

  // Records a running session's checkpoint, its durable resumable state (pipeline/ops/op.h
  // has the two words, checkpoint and live progress); buffered and group-committed with the
  // other writes, in call order. Ignored once the session has left in_progress, so a late
  // checkpoint never lands on a finished session.
  virtual void SaveCheckpoint(CheckpointUpdate checkpoint) = 0;

  // Applies an outcome (buffered and group-committed, in call order with SaveExecutionState).
  // `done` gets true if the session was in_progress and moved, false if it had already left.
  // A write that cannot commit (a full disk) is tried again until it does, and `done` waits
  // for it; it gets an error only if the store closes first (the session then stays
  // in_progress and the next open requeues it). Claims fail (kUnavailable) meanwhile.
  virtual void FinishSession(SessionOutcome outcome, Callback<bool> done) = 0;

  // The canonical spec JSON of a batch, by internal id. kNotFound if it was deleted.
  virtual void GetBatchSpec(int64_t batch_id, Callback<std::string> done) = 0;

  // --- Lifecycle (docs/scheduler.md) ---
  // Each returns the batch or session as it is after the change. kNotFound if missing;
  // kConflict when the state forbids it (e.g. pausing a finished batch). Repeating a change
  // that already holds is not an error.

  // Uninitialized sessions become canceled at once; running ones are left to the scheduler,
  // which cancels them and reports kCanceled outcomes.
  virtual void CancelBatch(std::string public_id, Callback<BatchRecord> done) = 0;
  virtual void SetBatchPaused(std::string public_id, bool paused, Callback<BatchRecord> done) = 0;
  // error and canceled sessions go back to uninitialized, claimable from now_ms.
  virtual void RetryBatch(std::string public_id, int64_t now_ms, Callback<BatchRecord> done) = 0;
  // Only finished batches (completed, failed, canceled); answers the number of sessions removed.
  virtual void DeleteBatch(std::string public_id, Callback<uint64_t> done) = 0;
  virtual void CancelSession(int64_t session_id, Callback<SessionRecord> done) = 0;
  virtual void RetrySession(int64_t session_id, int64_t now_ms, Callback<SessionRecord> done) = 0;
  // Persisted: a paused queue stays paused across restarts.
  virtual void SetQueuePaused(bool paused, Callback<QueueStatus> done) = 0;
  virtual void GetQueueStatus(Callback<QueueStatus> done) = 0;

  // --- Events (docs/api.md "Events"; written by the EventLog, storage/event_log.h) ---

  // A page of the stored event log, for replay, with the log's extent in the same snapshot.
  virtual void ReadEvents(EventQuery query, Callback<EventPage> done) = 0;

  // A running session's live progress, from its op (through the scheduler): ephemeral, never
  // resumed from. Kept in memory, the latest per session, and written as a coalesced
  // session.progress event. Returns at once from any thread; never touches the database on the
  // caller's thread.
  virtual void ReportLiveProgress(SessionLiveProgress progress) = 0;

  // Applies event retention now (it also runs every EventLogOptions::retention_interval);
  // `done` gets the number of events deleted.
  virtual void TrimEvents(Callback<int64_t> done) = 0;

  // --- Nodes (docs/scale-out.md) ---

  // The daemons attached to this store, newest first: the embedded store answers itself
  // alone; the PostgreSQL store every node that registered (alive, dead or stopped).
  virtual void ListNodes(Callback<std::vector<NodeRecord>> done) = 0;

  virtual StoreStats Stats() const = 0;

  // Stops accepting work, finishes what is queued, joins the threads and closes the database.
  // Idempotent; the destructor calls it.
  virtual void Close() = 0;
};

// Folds a completed session's result into its batch's result: `aggregate` is the batch's result
// so far (nullopt before the first), `op` the op that produced `result`. Returns the new
// aggregate, nullopt when this op's results do not fold, or an error (logged; the aggregate is
// left as it was). Runs on the writer thread inside the completion's transaction: it must be
// quick and must not call the store. Storage knows nothing of what results mean.
using ResultMerger = std::function<Result<std::optional<std::string>>(
    std::string_view op, const std::optional<std::string>& aggregate, std::string_view result)>;

struct SqliteStoreOptions {
  std::filesystem::path db_path;
  ResultMerger merge_results;  // may be empty: batches then have no result
  int reader_threads = 2;
  // Rows per write transaction when inserting a batch's sessions: bounds how long one batch
  // keeps other writes waiting.
  uint64_t insert_slice_rows = 65536;
  // Batches not finished at once; CreateBatch refuses one more (kLimitExceeded). 0: no limit.
  uint64_t max_active_batches = 0;
  size_t writer_queue_limit = 4096;
  size_t reader_queue_limit = 4096;
  EventLogOptions events;
  // Receives every committed event in seq order, on the event publisher's thread (see
  // EventListener).
  EventListener event_listener;
  // How sessions a crash left in progress are treated at open (storage/recovery.h).
  CrashPolicy crash_policy;
  // PRAGMA quick_check before anything else at open; a damaged database is refused (kCorrupt).
  // It reads the whole file: a daemon with a huge database may skip it.
  bool check_integrity = true;
  // The time the store stamps itself (batches' created_at, cancels, pauses, the requeue at
  // open, event times, the retention cutoff, rates); times callers pass in (claims, retries,
  // outcomes) come from their own clock (core/clock.h).
  WallClock clock = UnixMillis;
  // What ListNodes answers for this daemon.
  NodeIdentity node;
};

// Opens (creating if needed) the database, applies migrations, removes batches a crash left
// half-inserted, puts sessions a crash left in_progress back in the queue (their execution
// state kept), and starts the writer and reader threads.
// kFailedPrecondition if the database was written by a newer batchd; kCorrupt if it fails its
// integrity check (options.check_integrity); kIoError if it cannot be opened or written.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace batchd::storage
