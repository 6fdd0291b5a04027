// Live progress (pipeline/ops/op.h has the word) between the threads that report it and the
// progress job that writes it: the latest report of each session and the batches whose counters
// moved, handed out as one round at most once per interval. This is what keeps batch.progress
// and session.progress at "at most one per batch (per session) per 100 ms" (docs/api.md,
// "Events") whatever the rate of reports and commits; storage/progress_event_writer.h turns a
// round into events.
//
// A round is started (StartRoundIfDue, by the event log's ticker, which then queues the progress
// job) and later taken (TakeRound, by that job on the writer thread). No round starts while an
// earlier one has not been taken, so at most one progress job is ever queued.
//
// Thread-safe: Report from any thread, BatchesChanged and TakeRound from the writer thread,
// DueIn, StartRoundIfDue and CancelRound from the ticker. Time comes from `now` (a SteadyClock,
// core/clock.h), so tests move it by hand; the interval is an IntervalThrottle.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/interval_throttle.h"
#include "core/live_progress_interval.h"
#include "core/mutex.h"
#include "storage/event_record.h"

namespace batchd::storage {

struct LiveProgressCoalescerOptions {
  // Rounds start at most this often.
  std::chrono::milliseconds interval{kLiveProgressIntervalMs};
  // Reports a round hands out at most; the others wait for the next round, first in line.
  size_t max_reports_per_round = 256;
  // Sessions whose reports may wait at most; a report of one more session is dropped (it
  // reports again soon enough, and only the latest report per session matters).
  size_t max_pending_sessions = 100'000;
};

class LiveProgressCoalescer {
 public:
  explicit LiveProgressCoalescer(LiveProgressCoalescerOptions options,
                                 SteadyClock now = SteadyMillis);
  LiveProgressCoalescer(const LiveProgressCoalescer&) = delete;
  LiveProgressCoalescer& operator=(const LiveProgressCoalescer&) = delete;

  // Keeps `report` as its session's latest, replacing one not handed out yet (which keeps its
  // place in line). Returns true when the caller should wake the ticker: nothing was waiting
  // and no round is out, so the ticker has no reason to look at DueIn yet.
  bool Report(SessionLiveProgress report);

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
    std::vector<SessionLiveProgress> reports;  // one per session, longest waiting first
    std::vector<int64_t> batches;              // every changed batch, ascending, no duplicates
    bool more = false;  // reports were left for the next round: the caller wakes the ticker
  };
  // Hands out what waits (up to max_reports_per_round reports) and ends the round.
  Round TakeRound();

 private:
  bool WaitingLocked() const REQUIRES(mu_) { return !reports_.empty() || !batches_.empty(); }

  const LiveProgressCoalescerOptions options_;
  mutable Mutex mu_;
  // The interval rule: a round may start once `interval` has passed since the last one started.
  // Passed only under mu_, with the other conditions of a start.
  IntervalThrottle round_throttle_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, SessionLiveProgress> reports_ GUARDED_BY(mu_);  // by session id
  std::deque<int64_t> order_ GUARDED_BY(mu_);  // reports_' sessions, in line
  std::set<int64_t> batches_ GUARDED_BY(mu_);
  bool round_out_ GUARDED_BY(mu_) = false;  // started, not yet taken
};

}  // namespace batchd::storage
