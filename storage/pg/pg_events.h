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

#include <chrono>
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

// Appends `events` (their seq ignored: rows are inserted with seq NULL, numbered by the
// sequencer after commit) inside the caller's transaction. The same columns as the SQLite log
// (storage/event_table.cpp).
Status AppendEvents(PgConnection& conn, std::span<const EventRecord> events);

// A page of sequenced events for `query` (the semantics of storage/event_table.h's ReadEvents:
// after_seq, filters, limit, tail, max_bytes, more), with the log's extent in the same
// snapshot: one REPEATABLE READ READ ONLY transaction, so `conn` must not be in one. Rows not
// numbered yet are not there.
Result<EventPage> ReadEvents(PgConnection& conn, const EventQuery& query);

// The highest seq handed out so far (0 if none): max(seq) in the caller's snapshot, or the
// sequence's last value when retention emptied the log (pg_event_table.cpp says why).
Result<int64_t> LatestEventSeq(PgConnection& conn);

struct PgEventHubOptions {
  std::string uri;
  EventLogOptions events;
  EventListener listener;
  // Called on the hub's stop listener thread; must not block (a stop must reach the node
  // within a second). May be empty.
  std::function<void(const RemoteStop&)> on_remote_stop;
  WallClock clock = UnixMillis;             // event times, the retention cutoff, the rates
  SteadyClock steady_clock = SteadyMillis;  // the progress interval (tests step it by hand)
  // How often the sequencer runs a pass without being woken, and the follower reads without
  // being told: the backstop for a notification lost to a reconnect.
  std::chrono::milliseconds sequencer_backstop{100};
  std::chrono::milliseconds follower_backstop{1000};
};

class PgEventHub {
 public:
  // Opens its connections (LISTEN batchd_event_rows, batchd_events, batchd_stop), finds the
  // latest seq (the listener gets only events after it) and starts its threads:
  //   - the sequencer: LISTEN batchd_event_rows; runs a pass when woken (and every
  //     sequencer_backstop);
  //   - the follower: LISTEN batchd_events; reads seq > the last delivered, in pages, and calls
  //     the listener (exactly once per event, in seq order, one call at a time);
  //   - the stop listener: LISTEN batchd_stop; calls on_remote_stop (its own connection, so a
  //     pass waiting for the lock or a slow listener never delays a stop);
  //   - the worker: progress rounds and retention, on a connection of its own.
  // Each reconnects when the server goes away (with LISTEN again), then runs a pass / read at
  // once, since notifications may have been missed. Events are not lost that way (they are
  // read by seq), but a batchd_stop sent while the stop listener was away is: LISTEN keeps no
  // backlog (a cancel's flag in the session row makes up for it: pg_nodes.h). kUnavailable if the
  // server cannot be reached at start.
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
  // A retention pass now (all its slices, on the worker thread); `done` gets the number of
  // events deleted, or kUnavailable once the hub is stopped.
  virtual void Trim(std::function<void(Result<int64_t>)> done) = 0;
  // The last seq handed to the listener (the start point before any).
  virtual int64_t DeliveredSeq() const = 0;
  // Delivers what is sequenced, then stops the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace batchd::storage::pg
