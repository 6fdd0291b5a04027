// A storage::Store held in memory, for the HTTP router fuzzer: the real handlers run against it
// as they would against SQLite, and it answers on the calling thread (allowed by store.h: a
// callback may run at once), so each fuzz input finishes before the next begins.
//
// It mirrors SqliteStore's observable behaviour that the handlers render: records, pages and
// cursors, NotFound/Conflict with the same messages (they quote ids from the request), the
// lifecycle rules of docs/scheduler.md for sessions that never run. It stores no session rows:
// a session has its batch's common state unless a lifecycle call moved it alone. The scheduling
// calls are never made by handlers and answer kUnavailable.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "storage/store.h"

namespace batchd::fuzz {

class InMemoryStore final : public storage::Store {
 public:
  void CreateBatch(storage::NewBatch batch, storage::Callback<storage::BatchCreated> done) override;
  void ListBatches(storage::BatchListQuery query,
                   storage::Callback<storage::Page<storage::BatchRecord>> done) override;
  void GetBatch(std::string public_id, storage::Callback<storage::BatchRecord> done) override;
  void ListSessions(storage::SessionListQuery query,
                    storage::Callback<storage::Page<storage::SessionRecord>> done) override;
  void GetSession(int64_t session_id, storage::Callback<storage::SessionDetail> done) override;
  void ListSessionResults(
      storage::SessionResultsQuery query,
      storage::Callback<storage::Page<storage::SessionResultRow>> done) override;

  void ClaimSessions(int max_sessions, int64_t now_ms,
                     storage::Callback<storage::ClaimResult> done) override;
  void SaveExecutionState(int64_t, std::string, int64_t) override {}
  void SaveCheckpoint(storage::CheckpointUpdate) override {}
  void FinishSession(storage::SessionOutcome outcome, storage::Callback<bool> done) override;
  void GetBatchSpec(int64_t batch_id, storage::Callback<std::string> done) override;

  void CancelBatch(std::string public_id, storage::Callback<storage::BatchRecord> done) override;
  void SetBatchPaused(std::string public_id, bool paused,
                      storage::Callback<storage::BatchRecord> done) override;
  void RetryBatch(std::string public_id, int64_t now_ms,
                  storage::Callback<storage::BatchRecord> done) override;
  void DeleteBatch(std::string public_id, storage::Callback<uint64_t> done) override;
  void CancelSession(int64_t session_id, storage::Callback<storage::SessionRecord> done) override;
  void RetrySession(int64_t session_id, int64_t now_ms,
                    storage::Callback<storage::SessionRecord> done) override;
  void SetQueuePaused(bool paused, storage::Callback<storage::QueueStatus> done) override;
  void GetQueueStatus(storage::Callback<storage::QueueStatus> done) override;

  // The event log is not modelled (handlers only replay it): it is always empty.
  void ReadEvents(storage::EventQuery, storage::Callback<storage::EventPage> done) override {
    done(storage::EventPage{});
  }
  void ReportLiveProgress(storage::SessionLiveProgress) override {}
  void TrimEvents(storage::Callback<int64_t> done) override { done(int64_t{0}); }
  void ListNodes(storage::Callback<std::vector<storage::NodeRecord>> done) override {
    done(std::vector<storage::NodeRecord>{});
  }
  storage::StoreStats Stats() const override { return {}; }
  void Close() override {}

  // Everything a request could change, as text: equal before and after a refused request.
  std::string Fingerprint();
  // Forgets every batch and restarts the ids, as a fresh database would.
  void Clear();

 private:
  struct Batch {
    storage::BatchRecord record;
    std::string spec_json;
    // Sessions are in `unmoved` unless listed in `moved` (never with the `unmoved` state).
    storage::SessionState unmoved = storage::SessionState::kUninitialized;
    std::map<int64_t, storage::SessionState> moved;
  };

  // Each returns a copy taken under mu_, or the error the SQLite store would give.
  Result<storage::BatchRecord> BatchLocked(const std::string& public_id) REQUIRES(mu_);
  Batch* FindBatchLocked(const std::string& public_id) REQUIRES(mu_);
  Batch* BatchOfSessionLocked(int64_t session_id) REQUIRES(mu_);
  storage::SessionRecord SessionLocked(const Batch& batch, int64_t session_id) const REQUIRES(mu_);
  void MoveSessionLocked(Batch& batch, int64_t session_id, storage::SessionState to) REQUIRES(mu_);
  // Moves every session in one of `from` to `to`, as one transaction of the real store does.
  static void MoveAllLocked(Batch& batch, std::initializer_list<storage::SessionState> from,
                            storage::SessionState to);
  storage::QueueStatus QueueLocked() const REQUIRES(mu_);

  Mutex mu_;
  std::map<int64_t, Batch> batches_ GUARDED_BY(mu_);  // by internal id
  int64_t next_batch_id_ GUARDED_BY(mu_) = 1;
  int64_t next_session_id_ GUARDED_BY(mu_) = 1;
  bool queue_paused_ GUARDED_BY(mu_) = false;
};

}  // namespace batchd::fuzz
