#include "storage/pg/pg_scheduling.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/log_throttle.h"
#include "core/mutex.h"
#include "storage/json_blob.h"
#include "storage/pg/pg_claim.h"
#include "storage/pg/pg_outcome_round.h"
#include "storage/pg/pg_session_events.h"
#include "storage/retry_timer.h"

namespace batchd::storage::pg {
namespace {

// A claim that came back short while a claimable batch was locked by another transaction
// (another node's claim, an outcome round closing) tries once more for what it still wants,
// this time waiting for the batch rows (briefly: pg_claim.h); if still short it answers a
// next_due_ms this close, so the scheduler asks again soon instead of waiting for a session to
// finish that may never come.
constexpr int64_t kLockedDueMs = 20;
// Bounds on what waits to be written (outcomes, states, checkpoints): a round writes at most
// kMaxRoundEntries, so no transaction holds a batch row for long, and claims wait while more
// than kMaxUnwrittenEntries wait, so a node whose sessions finish faster than their outcomes
// commit stops claiming instead of piling them up in memory.
constexpr size_t kMaxRoundEntries = 16384;
constexpr size_t kMaxUnwrittenEntries = 4 * kMaxRoundEntries;

// One retry of a statement that failed for a transient reason (a deadlock, a lost connection).
bool Reconnected(PgConnection& conn, const Status& s) {
  if (s.code() != StatusCode::kUnavailable) return false;
  if (!conn.IsBroken()) return true;
  return conn.Reconnect().ok();
}

class PgSchedulingImpl final : public PgScheduling {
 public:
  PgSchedulingImpl(PgSchedulingOptions options, std::unique_ptr<PgConnection> claim_conn,
                   std::unique_ptr<PgConnection> flush_conn)
      : options_(std::move(options)),
        session_events_(options_.session_events),
        claim_conn_(std::move(claim_conn)),
        flush_conn_(std::move(flush_conn)) {
    claim_thread_ = std::thread([this] { ClaimLoop(); });
    flush_thread_ = std::thread([this] { FlushLoop(); });
  }
  ~PgSchedulingImpl() override { Stop(); }

  void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) override {
    {
      MutexLock lock(claim_mu_);
      if (!claim_stopping_) {
        claims_.push_back({max_sessions, now_ms, std::move(done)});
        claim_wanted_.Signal();
        return;
      }
    }
    done(Status::Unavailable("the store is closing"));
  }

  void SaveExecutionState(int64_t session_id, std::string state_json,
                          int64_t started_at_ms) override {
    Add(PgSavedState{session_id, CompressJson(state_json), started_at_ms});
  }

  void SaveCheckpoint(CheckpointUpdate checkpoint) override { Add(std::move(checkpoint)); }

  void FinishSession(SessionOutcome outcome, Callback<bool> done) override {
    Add(PgFinished{std::move(outcome), std::move(done)});
  }

  size_t OutcomesUnstored() const override { return unstored_.load(); }

  TransactionStats Transactions() const override {
    return {.commits = commits_.load(), .failures = failures_.load(), .latency = latency_.Read()};
  }

  void Stop() override {
    claims_stopping_.store(true);
    {
      MutexLock lock(claim_mu_);
      claim_stopping_ = true;
    }
    claim_wanted_.SignalAll();
    if (claim_thread_.joinable()) claim_thread_.join();
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    wanted_.SignalAll();
    if (flush_thread_.joinable()) flush_thread_.join();
  }

 private:
  struct ClaimRequest {
    int max_sessions;
    int64_t now_ms;
    Callback<ClaimResult> done;
  };

  void Add(PgScheduleEntry entry) {
    {
      MutexLock lock(mu_);
      if (!stopping_) {
        if (holding_.load() && ReplacedCheckpoint(entry)) return;
        pending_.push_back(std::move(entry));
        if (holding_.load()) unstored_.store(carried_ + pending_.size());
        wanted_.Signal();
        return;
      }
    }
    if (auto* f = std::get_if<PgFinished>(&entry))
      f->done(Status::Unavailable("the store is closing"));
  }

  // While a failed round waits, only a session's latest checkpoint matters: a long outage must
  // not pile them up (the buffer stays bounded by the slots, as in the embedded store).
  bool ReplacedCheckpoint(PgScheduleEntry& entry) REQUIRES(mu_) {
    auto* p = std::get_if<CheckpointUpdate>(&entry);
    if (p == nullptr) return false;
    for (PgScheduleEntry& e : pending_) {
      auto* earlier = std::get_if<CheckpointUpdate>(&e);
      if (earlier != nullptr && earlier->session_id == p->session_id) {
        *earlier = std::move(*p);
        return true;
      }
    }
    return false;
  }

  void ClaimLoop() {
    MutexLock lock(claim_mu_);
    for (;;) {
      while (claims_.empty() && !claim_stopping_) claim_wanted_.Wait(claim_mu_);
      if (claims_.empty()) return;
      ClaimRequest request = std::move(claims_.front());
      claims_.pop_front();
      const bool stopping = claim_stopping_;
      lock.Unlock();
      if (stopping) {
        request.done(Status::Unavailable("the store is closing"));
      } else {
        request.done(Claim(request.max_sessions, request.now_ms));
      }
      lock.Lock();
    }
  }

  Result<PgClaim> ClaimOnce(int64_t node_id, int max_sessions, int64_t now_ms, bool wait) {
    Result<PgClaim> claim = Timed([&] {
      return ClaimInTransaction(*claim_conn_, node_id, max_sessions, now_ms, session_events_, wait);
    });
    if (!claim.ok() && Reconnected(*claim_conn_, claim.status())) {
      claim = Timed([&] {
        return ClaimInTransaction(*claim_conn_, node_id, max_sessions, now_ms, session_events_,
                                  wait);
      });
    }
    return claim;
  }

  // Runs one transaction and counts it in Transactions().
  template <typename Txn>
  auto Timed(Txn txn) -> decltype(txn()) {
    const auto start = std::chrono::steady_clock::now();
    auto result = txn();
    latency_.Observe(std::chrono::steady_clock::now() - start);
    (result.ok() ? commits_ : failures_).fetch_add(1);
    return result;
  }

  // Waits while too much waits to be written (kMaxUnwrittenEntries). Gives up when the store
  // stops or a round failed (the claim is then refused below).
  void WaitForWrites() {
    MutexLock lock(mu_);
    while (!stopping_ && !claims_stopping_.load() && !holding_.load() &&
           pending_.size() + in_round_ > kMaxUnwrittenEntries) {
      written_.WaitFor(mu_, std::chrono::milliseconds(50));
    }
  }

  Result<ClaimResult> Claim(int max_sessions, int64_t now_ms) {
    WaitForWrites();
    if (holding_.load()) {
      return Status::Unavailable(
          "outcomes of finished sessions are not stored yet (the database cannot commit); "
          "claiming resumes once they are");
    }
    const int64_t node_id = options_.node_id();
    ASSIGN_OR_RETURN(PgClaim claim, ClaimOnce(node_id, max_sessions, now_ms, false));
    Publish(node_id, claim);
    ClaimResult result = std::move(claim.result);
    if (claim.skipped_locked && static_cast<int>(result.sessions.size()) < max_sessions) {
      Result<PgClaim> more =
          ClaimOnce(node_id, max_sessions - static_cast<int>(result.sessions.size()), now_ms, true);
      if (more.ok()) {
        claim = std::move(*more);
        Publish(node_id, claim);
        for (ClaimedSession& c : claim.result.sessions) result.sessions.push_back(std::move(c));
        result.next_due_ms = claim.result.next_due_ms;
      }  // else what was claimed stands; claim.skipped_locked sets the early next_due
    }
    if (claim.skipped_locked && static_cast<int>(result.sessions.size()) < max_sessions) {
      const int64_t soon = now_ms + kLockedDueMs;
      result.next_due_ms = result.next_due_ms ? std::min(*result.next_due_ms, soon) : soon;
    }
    return result;
  }

  // After a claim's commit: who runs what, and which batches moved.
  void Publish(int64_t node_id, const PgClaim& claim) {
    if (options_.sessions != nullptr && !claim.result.sessions.empty()) {
      std::vector<int64_t> ids;
      ids.reserve(claim.result.sessions.size());
      for (const ClaimedSession& c : claim.result.sessions) ids.push_back(c.id);
      options_.sessions->Claimed(node_id, ids);
    }
    if (options_.events != nullptr) {
      if (!claim.changed_batches.empty()) options_.events->BatchesChanged(claim.changed_batches);
      for (const auto& [batch_id, n] : claim.suppressed) {
        options_.events->SessionEventsSuppressed(batch_id, n);
      }
    }
  }

  void FlushLoop() {
    std::vector<PgScheduleEntry> carried;  // a failed round's entries, first in the next
    RetryBackoff backoff{std::chrono::milliseconds(100), std::chrono::seconds(5)};
    MutexLock lock(mu_);
    for (;;) {
      while (pending_.empty() && carried.empty() && !stopping_) wanted_.Wait(mu_);
      if (pending_.empty() && carried.empty()) return;  // stopping, nothing left
      std::vector<PgScheduleEntry> entries = std::move(carried);
      carried.clear();
      // In call order; what passes kMaxRoundEntries waits for the next round.
      const size_t take = std::min(pending_.size(), kMaxRoundEntries);
      for (size_t i = 0; i < take; ++i) entries.push_back(std::move(pending_[i]));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(take));
      carried_ = 0;
      in_round_ = entries.size();
      const bool last_try = stopping_;
      lock.Unlock();
      const int64_t node_id = options_.node_id();
      Result<PgRound> round = Timed([&] {
        return WriteRoundInTransaction(*flush_conn_, node_id, entries, options_.merge_results,
                                       session_events_);
      });
      if (!round.ok() && flush_conn_->IsBroken()) (void)flush_conn_->Reconnect();
      if (round.ok()) {
        holding_.store(false);
        unstored_.store(0);
        backoff.Reset();
        Stored(entries, *round);
        lock.Lock();
        in_round_ = 0;
        written_.SignalAll();
        continue;
      }
      if (last_try) {
        spdlog::warn("{} session outcome(s) and state(s) not stored before the store closed: {}",
                     entries.size(), round.status().ToString());
        for (PgScheduleEntry& e : entries) {
          if (auto* f = std::get_if<PgFinished>(&e)) f->done(round.status());
        }
        lock.Lock();
        in_round_ = 0;
        written_.SignalAll();
        continue;
      }
      if (std::optional<int64_t> suppressed = retry_log_.Admit()) {
        spdlog::warn(
            "{} session outcome(s) and state(s) not stored yet, kept and tried again until "
            "they are: {}{}",
            entries.size(), round.status().ToString(), SuppressedSuffix(*suppressed));
      }
      const auto deadline = std::chrono::steady_clock::now() + backoff.Next();
      lock.Lock();
      holding_.store(true);
      written_.SignalAll();  // a claim waiting for writes is refused now instead
      carried_ = entries.size();
      unstored_.store(carried_ + pending_.size());
      carried = std::move(entries);
      while (!stopping_ && wanted_.WaitUntil(mu_, deadline) != std::cv_status::timeout) {
      }
    }
  }

  void Stored(std::vector<PgScheduleEntry>& entries, const PgRound& round) {
    if (options_.sessions != nullptr && !round.finished_sessions.empty()) {
      options_.sessions->Finished(round.finished_sessions);
    }
    if (options_.events != nullptr) {
      if (!round.changed_batches.empty()) options_.events->BatchesChanged(round.changed_batches);
      for (const auto& [batch_id, n] : round.suppressed) {
        options_.events->SessionEventsSuppressed(batch_id, n);
      }
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      if (auto* f = std::get_if<PgFinished>(&entries[i]))
        f->done(static_cast<bool>(round.applied[i]));
    }
  }

  const PgSchedulingOptions options_;
  PgSessionEvents session_events_;
  std::unique_ptr<PgConnection> claim_conn_;  // claim thread only
  std::unique_ptr<PgConnection> flush_conn_;  // flush thread only

  Mutex claim_mu_;
  CondVar claim_wanted_;
  std::deque<ClaimRequest> claims_ GUARDED_BY(claim_mu_);
  bool claim_stopping_ GUARDED_BY(claim_mu_) = false;

  Mutex mu_;
  CondVar wanted_;
  std::vector<PgScheduleEntry> pending_ GUARDED_BY(mu_);  // in call order
  size_t carried_ GUARDED_BY(mu_) = 0;                    // held by a failed round
  size_t in_round_ GUARDED_BY(mu_) = 0;                   // entries the flush is writing
  CondVar written_;                                       // a round ended
  std::atomic<bool> claims_stopping_{false};              // Stop() began
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<bool> holding_{false};  // a round failed and its entries wait
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> failures_{0};
  LatencyHistogram latency_;
  std::atomic<size_t> unstored_{0};
  LogThrottle retry_log_;

  std::thread claim_thread_;
  std::thread flush_thread_;
};

}  // namespace

Result<std::unique_ptr<PgScheduling>> PgScheduling::Start(PgSchedulingOptions options) {
  if (!options.node_id) return Status::InvalidArgument("PgScheduling: node_id is required");
  ASSIGN_OR_RETURN(auto claim_conn, PgConnection::Open(options.uri));
  ASSIGN_OR_RETURN(auto flush_conn, PgConnection::Open(options.uri));
  return std::unique_ptr<PgScheduling>(std::make_unique<PgSchedulingImpl>(
      std::move(options), std::move(claim_conn), std::move(flush_conn)));
}

}  // namespace batchd::storage::pg
