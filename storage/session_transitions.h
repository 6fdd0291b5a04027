// A hook for whoever must know about session transitions in the transaction that makes them
// (the event log, storage/event_log.h). Called on the writer thread, inside the write
// transaction, after the session row moved (the batch counters may move later in the same
// transaction): what the observer writes commits or rolls back with the transition. Implementations
// must be cheap on the common path (a large batch's sessions completing), since claims and outcomes
// call them per session.
#pragma once

#include <span>

#include <SQLiteCpp/Database.h>

#include "storage/records.h"

namespace batchd::storage {

class SessionTransitionObserver {
 public:
  virtual ~SessionTransitionObserver() = default;

  // `claimed` (all of one batch) moved uninitialized -> in_progress.
  virtual void OnClaimed(SQLite::Database& db, std::span<const ClaimedSession> claimed) = 0;

  // `outcome` moved its session out of in_progress (only outcomes that applied).
  virtual void OnFinished(SQLite::Database& db, const SessionOutcome& outcome) = 0;

  // A request about one session (cancel, retry) moved it from `before.state` to `after.state`.
  virtual void OnSessionRequest(SQLite::Database& db, const SessionRecord& before,
                                const SessionRecord& after) = 0;
};

}  // namespace batchd::storage
