#include "fuzz/in_memory_store.h"

#include <algorithm>
#include <iterator>

namespace batchd::fuzz {
namespace {

using storage::BatchRecord;
using storage::BatchState;
using storage::SessionState;

constexpr int64_t kNowMs = 1'700'000'000'000;  // a fixed clock: runs must replay exactly

int64_t& CountOf(storage::SessionCounts& c, SessionState s) {
  switch (s) {
    case SessionState::kUninitialized:
      return c.uninitialized;
    case SessionState::kInProgress:
      return c.in_progress;
    case SessionState::kCompleted:
      return c.completed;
    case SessionState::kError:
      return c.error;
    case SessionState::kCanceled:
      break;
  }
  return c.canceled;
}

// The state rule of storage/batch_counters.cpp, with `paused` standing for the batch's flag.
void RefreshState(BatchRecord& b, bool paused) {
  const storage::SessionCounts& c = b.counts;
  b.state =
      DeriveBatchState(c.uninitialized, c.in_progress, c.completed, c.error, c.canceled, paused);
  if (!IsFinished(b.state)) {
    b.finished_at_ms.reset();
  } else if (!b.finished_at_ms) {
    b.finished_at_ms = kNowMs;
  }
}

}  // namespace

InMemoryStore::Batch* InMemoryStore::FindBatchLocked(const std::string& public_id) {
  for (auto& [id, batch] : batches_) {
    if (batch.record.public_id == public_id) return &batch;
  }
  return nullptr;
}

Result<BatchRecord> InMemoryStore::BatchLocked(const std::string& public_id) {
  Batch* b = FindBatchLocked(public_id);
  if (b == nullptr) return Status::NotFound("no batch with id " + public_id);
  return b->record;
}

InMemoryStore::Batch* InMemoryStore::BatchOfSessionLocked(int64_t session_id) {
  for (auto& [id, batch] : batches_) {
    const BatchRecord& r = batch.record;
    if (session_id >= r.first_session_id &&
        session_id - r.first_session_id < static_cast<int64_t>(r.session_count)) {
      return &batch;
    }
  }
  return nullptr;
}

storage::SessionRecord InMemoryStore::SessionLocked(const Batch& batch, int64_t session_id) const {
  auto moved = batch.moved.find(session_id);
  return {.id = session_id,
          .batch_id = batch.record.id,
          .batch_public_id = batch.record.public_id,
          .ordinal = static_cast<uint64_t>(session_id - batch.record.first_session_id),
          .state = moved == batch.moved.end() ? batch.unmoved : moved->second,
          .attempts = 0};
}

void InMemoryStore::MoveSessionLocked(Batch& batch, int64_t session_id, SessionState to) {
  const SessionState from = SessionLocked(batch, session_id).state;
  --CountOf(batch.record.counts, from);
  ++CountOf(batch.record.counts, to);
  if (to == batch.unmoved) {
    batch.moved.erase(session_id);
  } else {
    batch.moved[session_id] = to;
  }
  RefreshState(batch.record, batch.record.state == BatchState::kPaused);
}

void InMemoryStore::MoveAllLocked(Batch& batch, std::initializer_list<SessionState> from,
                                  SessionState to) {
  auto moves = [&](SessionState s) { return std::find(from.begin(), from.end(), s) != from.end(); };
  storage::SessionCounts& c = batch.record.counts;
  for (SessionState s : from) {
    if (s == to) continue;
    CountOf(c, to) += CountOf(c, s);
    CountOf(c, s) = 0;
  }
  if (moves(batch.unmoved)) batch.unmoved = to;
  for (auto it = batch.moved.begin(); it != batch.moved.end();) {
    if (moves(it->second)) it->second = to;
    it = it->second == batch.unmoved ? batch.moved.erase(it) : std::next(it);
  }
  RefreshState(batch.record, batch.record.state == BatchState::kPaused);
}

storage::QueueStatus InMemoryStore::QueueLocked() const {
  storage::QueueStatus q;
  q.paused = queue_paused_;
  for (const auto& [id, batch] : batches_) {
    const storage::SessionCounts& c = batch.record.counts;
    q.counts.uninitialized += c.uninitialized;
    q.counts.in_progress += c.in_progress;
    q.counts.completed += c.completed;
    q.counts.error += c.error;
    q.counts.canceled += c.canceled;
    if (!IsFinished(batch.record.state)) ++q.batches_active;
  }
  return q;
}

void InMemoryStore::CreateBatch(storage::NewBatch batch,
                                storage::Callback<storage::BatchCreated> done) {
  storage::BatchCreated created;
  {
    MutexLock lock(mu_);
    Batch b;
    BatchRecord& r = b.record;
    r.id = next_batch_id_++;
    r.public_id = "b" + std::to_string(r.id);
    r.name = batch.name;
    r.priority = batch.priority;
    r.runs = batch.runs;
    r.max_running = batch.max_running;
    r.max_attempts = batch.max_attempts;
    r.state = BatchState::kQueued;
    r.session_count = batch.session_count;
    r.first_session_id = next_session_id_;
    r.group_lengths = batch.group_lengths;
    r.counts.uninitialized = static_cast<int64_t>(batch.session_count);
    r.created_at_ms = kNowMs;
    b.spec_json = std::move(batch.spec_json);
    next_session_id_ += static_cast<int64_t>(batch.session_count);
    created = {.id = r.id, .public_id = r.public_id, .sessions = r.session_count};
    batches_.emplace(r.id, std::move(b));
  }
  done(created);
}

void InMemoryStore::ListBatches(storage::BatchListQuery query,
                                storage::Callback<storage::Page<BatchRecord>> done) {
  storage::Page<BatchRecord> page;
  {
    MutexLock lock(mu_);
    for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {  // newest first
      const BatchRecord& r = it->second.record;
      if (query.before_id && r.id >= *query.before_id) continue;
      if (query.state && r.state != *query.state) continue;
      if (static_cast<int>(page.items.size()) == query.limit) {
        page.next_cursor = page.items.back().id;
        break;
      }
      page.items.push_back(r);
    }
  }
  done(std::move(page));
}

void InMemoryStore::GetBatch(std::string public_id, storage::Callback<BatchRecord> done) {
  Result<BatchRecord> r = [&] {
    MutexLock lock(mu_);
    return BatchLocked(public_id);
  }();
  done(std::move(r));
}

void InMemoryStore::ListSessions(storage::SessionListQuery query,
                                 storage::Callback<storage::Page<storage::SessionRecord>> done) {
  // A state filter scans at most this many sessions: enough for the handful a fuzz input
  // creates, bounded for the ten million one batch may hold.
  constexpr int64_t kMaxScan = 4096;
  Result<storage::Page<storage::SessionRecord>> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(query.batch_public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + query.batch_public_id);
    storage::Page<storage::SessionRecord> page;
    const int64_t first = b->record.first_session_id;
    const int64_t end = first + static_cast<int64_t>(b->record.session_count);
    int64_t id = query.after_id ? std::max(first, *query.after_id + 1) : first;
    for (int64_t scanned = 0; id < end && scanned < kMaxScan; ++id, ++scanned) {
      storage::SessionRecord s = SessionLocked(*b, id);
      if (query.state && s.state != *query.state) continue;
      if (static_cast<int>(page.items.size()) == query.limit) {
        page.next_cursor = page.items.back().id;
        break;
      }
      page.items.push_back(std::move(s));
    }
    return page;
  }();
  done(std::move(result));
}

void InMemoryStore::GetSession(int64_t session_id, storage::Callback<storage::SessionDetail> done) {
  Result<storage::SessionDetail> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = BatchOfSessionLocked(session_id);
    if (b == nullptr) return Status::NotFound("no session with id " + std::to_string(session_id));
    return storage::SessionDetail{
        .session = SessionLocked(*b, session_id), .batch = b->record, .spec_json = b->spec_json};
  }();
  done(std::move(result));
}

void InMemoryStore::ClaimSessions(int, int64_t, storage::Callback<storage::ClaimResult> done) {
  done(Status::Unavailable("the router fuzzer runs no scheduler"));
}

void InMemoryStore::FinishSession(storage::SessionOutcome, storage::Callback<bool> done) {
  done(false);
}

void InMemoryStore::ListSessionResults(
    storage::SessionResultsQuery query,
    storage::Callback<storage::Page<storage::SessionResultRow>> done) {
  // Sessions here never run: each row is the session as it stands, with no result.
  Result<storage::Page<storage::SessionResultRow>> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(query.batch_public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + query.batch_public_id);
    storage::Page<storage::SessionResultRow> page;
    const int64_t first = b->record.first_session_id;
    const int64_t end = first + static_cast<int64_t>(b->record.session_count);
    for (int64_t id = query.after_id ? std::max(first, *query.after_id + 1) : first; id < end;
         ++id) {
      if (static_cast<int>(page.items.size()) == query.limit) {
        page.next_cursor = page.items.back().id;
        break;
      }
      const storage::SessionRecord s = SessionLocked(*b, id);
      page.items.push_back(
          {.id = s.id, .ordinal = s.ordinal, .state = s.state, .attempts = s.attempts});
    }
    return page;
  }();
  done(std::move(result));
}

void InMemoryStore::GetBatchSpec(int64_t, storage::Callback<std::string> done) {
  done(Status::Unavailable("the router fuzzer runs no scheduler"));
}

void InMemoryStore::CancelBatch(std::string public_id, storage::Callback<BatchRecord> done) {
  Result<BatchRecord> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + public_id);
    BatchRecord& r = b->record;
    if (r.state == BatchState::kCompleted || r.state == BatchState::kFailed) {
      return Status::Conflict("batch " + public_id + " is already " +
                              storage::BatchStateName(r.state));
    }
    MoveAllLocked(*b, {SessionState::kUninitialized}, SessionState::kCanceled);
    return r;
  }();
  done(std::move(result));
}

void InMemoryStore::SetBatchPaused(std::string public_id, bool paused,
                                   storage::Callback<BatchRecord> done) {
  Result<BatchRecord> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + public_id);
    if (IsFinished(b->record.state)) {
      return Status::Conflict("batch " + public_id + " is already " +
                              storage::BatchStateName(b->record.state));
    }
    RefreshState(b->record, paused);
    return b->record;
  }();
  done(std::move(result));
}

void InMemoryStore::RetryBatch(std::string public_id, int64_t,
                               storage::Callback<BatchRecord> done) {
  Result<BatchRecord> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + public_id);
    MoveAllLocked(*b, {SessionState::kError, SessionState::kCanceled},
                  SessionState::kUninitialized);
    return b->record;
  }();
  done(std::move(result));
}

void InMemoryStore::DeleteBatch(std::string public_id, storage::Callback<uint64_t> done) {
  Result<uint64_t> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = FindBatchLocked(public_id);
    if (b == nullptr) return Status::NotFound("no batch with id " + public_id);
    if (!IsFinished(b->record.state)) {
      return Status::Conflict("batch " + public_id + " is " +
                              storage::BatchStateName(b->record.state) +
                              "; cancel it or let it finish before deleting it");
    }
    const uint64_t sessions = b->record.session_count;
    batches_.erase(b->record.id);
    return sessions;
  }();
  done(std::move(result));
}

void InMemoryStore::CancelSession(int64_t session_id,
                                  storage::Callback<storage::SessionRecord> done) {
  Result<storage::SessionRecord> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = BatchOfSessionLocked(session_id);
    if (b == nullptr) return Status::NotFound("no session with id " + std::to_string(session_id));
    const storage::SessionRecord s = SessionLocked(*b, session_id);
    if (s.state == SessionState::kUninitialized) {
      MoveSessionLocked(*b, session_id, SessionState::kCanceled);
      return SessionLocked(*b, session_id);
    }
    if (s.state == SessionState::kCanceled) return s;
    return Status::Conflict("session " + std::to_string(session_id) + " is already " +
                            storage::SessionStateName(s.state));
  }();
  done(std::move(result));
}

void InMemoryStore::RetrySession(int64_t session_id, int64_t,
                                 storage::Callback<storage::SessionRecord> done) {
  Result<storage::SessionRecord> result = [&]() -> decltype(result) {
    MutexLock lock(mu_);
    Batch* b = BatchOfSessionLocked(session_id);
    if (b == nullptr) return Status::NotFound("no session with id " + std::to_string(session_id));
    const storage::SessionRecord s = SessionLocked(*b, session_id);
    if (s.state != SessionState::kError && s.state != SessionState::kCanceled) {
      return Status::Conflict("session " + std::to_string(session_id) + " is " +
                              storage::SessionStateName(s.state) +
                              "; only error or canceled sessions can be retried");
    }
    MoveSessionLocked(*b, session_id, SessionState::kUninitialized);
    return SessionLocked(*b, session_id);
  }();
  done(std::move(result));
}

void InMemoryStore::SetQueuePaused(bool paused, storage::Callback<storage::QueueStatus> done) {
  storage::QueueStatus q;
  {
    MutexLock lock(mu_);
    queue_paused_ = paused;
    q = QueueLocked();
  }
  done(q);
}

void InMemoryStore::GetQueueStatus(storage::Callback<storage::QueueStatus> done) {
  storage::QueueStatus q;
  {
    MutexLock lock(mu_);
    q = QueueLocked();
  }
  done(q);
}

void InMemoryStore::Clear() {
  MutexLock lock(mu_);
  batches_.clear();
  next_batch_id_ = 1;
  next_session_id_ = 1;
  queue_paused_ = false;
}

std::string InMemoryStore::Fingerprint() {
  MutexLock lock(mu_);
  std::string out = queue_paused_ ? "paused;" : "running;";
  for (const auto& [id, batch] : batches_) {
    const BatchRecord& r = batch.record;
    const storage::SessionCounts& c = r.counts;
    out += r.public_id + ":" + storage::BatchStateName(r.state) + ":" +
           std::to_string(c.uninitialized) + "," + std::to_string(c.in_progress) + "," +
           std::to_string(c.completed) + "," + std::to_string(c.error) + "," +
           std::to_string(c.canceled) + ":" + storage::SessionStateName(batch.unmoved);
    for (const auto& [session, state] : batch.moved) {
      out += " " + std::to_string(session) + "=" + storage::SessionStateName(state);
    }
    out += ";";
  }
  return out;
}

}  // namespace batchd::fuzz
