// Live progress between the threads that report it and the progress job that writes it: the
// latest report of each session and the batches whose counters moved, handed out as one round
// at most once per interval. This is what keeps batch.progress and session.progress at "at most
// one per batch (per session) per 100 ms" (docs/api.md, "Events") whatever the rate of reports
// and commits; storage/progress_event_writer.h turns a round into events.
//
// A round is started (StartRoundIfDue, by the event log's ticker, which then queues the progress
// job) and later taken (TakeRound, by that job on the writer thread). No round starts while an
// earlier one has not been taken, so at most one progress job is ever queued.
//
// Thread-safe: Report from any thread, BatchesChanged and TakeRound from the writer thread,
// DueIn, StartRoundIfDue and CancelRound from the ticker. Time comes from `now` (monotonic
// milliseconds), so tests move it by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/mutex.h"
#include "storage/event_record.h"

namespace batchd::storage {

struct ProgressCoalescerOptions {
  // Rounds start at most this often.
  std::chrono::milliseconds interval{100};
  // Reports a round hands out at most; the others wait for the next round, first in line.
  size_t max_reports_per_round = 256;
  // Sessions whose reports may wait at most; a report of one more session is dropped (it
  // reports again soon enough, and only the latest report per session matters).
  size_t max_pending_sessions = 100'000;
};

class ProgressCoalescer {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds

  // `now` defaults to std::chrono::steady_clock.
  explicit ProgressCoalescer(ProgressCoalescerOptions options, Clock now = {});
  ProgressCoalescer(const ProgressCoalescer&) = delete;
  ProgressCoalescer& operator=(const ProgressCoalescer&) = delete;

  // Keeps `report` as its session's latest, replacing one not handed out yet (which keeps its
  // place in line). Returns true when the caller should wake the ticker: nothing was waiting
  // and no round is out, so the ticker has no reason to look at DueIn yet.
  bool Report(SessionProgress report);

  // `batch_ids` (duplicates allowed) had their counters changed by a commit. Returns true as
  // Report does.
  bool BatchesChanged(const std::vector<int64_t>& batch_ids);

  // How long until the next round may start (zero: now); nullopt when nothing waits or a round
  // is out.
  std::optional<std::chrono::milliseconds> DueIn() const;

  // Starts a round if one is due now (something waits, none is out, an interval has passed
  // since the last start). True means the caller must queue the job that calls TakeRound, or
  // call CancelRound.
  bool StartRoundIfDue();

  // The started round's job could not be queued: what waits stays for a later round.
  void CancelRound();

  struct Round {
    std::vector<SessionProgress> reports;  // one per session, longest waiting first
    std::vector<int64_t> batches;          // every changed batch, ascending, no duplicates
    bool more = false;  // reports were left for the next round: the caller wakes the ticker
  };
  // Hands out what waits (up to max_reports_per_round reports) and ends the round.
  Round TakeRound();

 private:
  bool WaitingLocked() const REQUIRES(mu_) { return !reports_.empty() || !batches_.empty(); }

  // The interval rule, kept in one place (issue 11 item 3 folds the 100 ms throttles into one
  // class): a round may start once `interval` has passed since the last one started. Returns
  // the milliseconds left until then (zero or less: it may start at `now`).
  int64_t UntilNextStartLocked(int64_t now) const REQUIRES(mu_);

  const ProgressCoalescerOptions options_;
  const Clock now_;

  mutable Mutex mu_;
  std::unordered_map<int64_t, SessionProgress> reports_ GUARDED_BY(mu_);  // by session id
  std::deque<int64_t> order_ GUARDED_BY(mu_);  // reports_' sessions, in line
  std::set<int64_t> batches_ GUARDED_BY(mu_);
  bool round_out_ GUARDED_BY(mu_) = false;             // started, not yet taken
  std::optional<int64_t> started_ms_ GUARDED_BY(mu_);  // when the last round started
};

}  // namespace batchd::storage
