// The event log of the PostgreSQL store (docs/scale-out.md "Events"):
//   - writers append rows with seq NULL inside the transactions of their changes (AppendEvents
//     here; batch.* rows come from triggers, migrations/postgres/0001_initial.sql);
//   - the sequencer numbers committed rows from the one sequence, one pass at a time under the
//     advisory lock kSequencerLockKey, woken by NOTIFY batchd_event_rows (and a periodic pass);
//     then NOTIFY batchd_events;
//   - each node's follower reads rows with seq > the last it delivered and hands them to the
//     EventListener in seq order, so every node's subscribers see the same sequence;
//   - live progress (ReportLiveProgress) and batch.progress for batches whose counters moved on
//     this node are written at most once per progress interval;
//   - retention deletes the oldest sequenced events in bounded slices;
//   - NOTIFY batchd_stop payloads ("session:<id>", "batch:<public id>") become RemoteStops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/event_log_options.h"
#include "storage/event_record.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_store.h"

namespace batchd::storage::pg {

// Appends `events` (their seq ignored) inside the caller's transaction.
Status AppendEvents(PgConnection& conn, std::span<const EventRecord> events);

// A page of sequenced events for `query`, with the log's extent in the same snapshot.
Result<EventPage> ReadEvents(PgConnection& conn, const EventQuery& query);

// The highest seq handed out so far (0 if none).
Result<int64_t> LatestEventSeq(PgConnection& conn);

struct PgEventHubOptions {
  std::string uri;
  EventLogOptions events;
  EventListener listener;
  std::function<void(const RemoteStop&)> on_remote_stop;
  WallClock clock = UnixMillis;
};

class PgEventHub {
 public:
  // Opens its connections (LISTEN batchd_event_rows, batchd_events, batchd_stop), finds the
  // latest seq (the listener gets only events after it) and starts its threads.
  static Result<std::unique_ptr<PgEventHub>> Start(PgEventHubOptions options);
  virtual ~PgEventHub() = default;

  // Kept in memory (the latest per session) and written as session.progress at the next
  // progress interval. Any thread; never blocks on the database.
  virtual void ReportLiveProgress(SessionLiveProgress progress) = 0;
  // These batches' counters moved on this node (after a commit): batch.progress for them at
  // the next progress interval. Any thread.
  virtual void BatchesChanged(std::span<const int64_t> batch_ids) = 0;
  // session.state events the policy refused for `batch_id` (reported in batch.progress).
  virtual void SessionEventsSuppressed(int64_t batch_id, int64_t count) = 0;
  // A retention pass now; `done` gets the number of events deleted.
  virtual void Trim(std::function<void(Result<int64_t>)> done) = 0;
  // Delivers what is sequenced, then stops the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace batchd::storage::pg
