// SQL on the `event` table (migrations/0004_events.sql). Appending happens inside a writer
// transaction; reading on any connection. storage/event_log.h decides what to append and when.
#pragma once

#include <memory>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "core/status.h"
#include "storage/event_record.h"

namespace batchd::storage {

// A prepared INSERT bound to one connection. Append throws SQLite::Exception like every other
// statement run inside a write job (the writer turns it into a rolled-back step).
class EventAppender {
 public:
  explicit EventAppender(SQLite::Database& db);
  // Stores `event` (its seq is ignored: the log assigns one).
  void Append(const EventRecord& event);

 private:
  SQLite::Statement insert_;
};

// A page of stored events for `query`, with the log's extent read in the same snapshot (run it
// on a reader connection, or inside a transaction). kIoError on SQLite failures.
Result<EventPage> ReadEvents(SQLite::Database& db, const EventQuery& query);

// The highest seq ever handed out (0 if none), which retention never lowers.
int64_t LatestEventSeq(SQLite::Database& db);

// Deletes the oldest events until at most `max_events` remain and none is older than
// `min_time_ms`, but never more than `max_delete` rows at once (so one call is one bounded
// transaction step), and never an event after `published_seq` (one not yet handed to the
// subscribers). Returns how many rows it deleted.
int64_t DeleteExpiredEvents(SQLite::Database& db, int64_t max_events, int64_t min_time_ms,
                            int64_t max_delete, int64_t published_seq);

}  // namespace batchd::storage
