// Which session transitions become `session.state` events. At a quarter of a million sessions
// a second, one stored event per transition would cost more than the transition itself, and no
// watcher reads them at that rate; docs/api.md ("Which session transitions are events") gives
// the reasoning. Used on the writer thread only.
#pragma once

#include <cstdint>

namespace batchd::storage {

struct SessionEventOptions {
  // Batches of at most this many sessions get an event for every transition of every session
  // (a watcher of a small batch sees each one start and end).
  uint64_t every_transition_max_sessions = 1000;
  // At most this many session.state events per second over all batches: a token bucket that
  // holds one second's worth. What it refuses is counted and reported in batch.progress.
  double max_per_second = 1000;
};

class SessionEventPolicy {
 public:
  enum class Verdict {
    kIgnore,    // not interesting: no event, not counted
    kEmit,      // write the event
    kSuppress,  // interesting, but over the rate: count it instead
  };

  explicit SessionEventPolicy(SessionEventOptions options);

  // A session of a batch of `batch_sessions` sessions changed state. Interesting when the batch
  // is small, when the transition carries an error (a failure, or a retry after one), or when
  // it was a request about this one session (cancel or retry of a session).
  Verdict Judge(uint64_t batch_sessions, bool carries_error, bool single_session_request,
                int64_t now_ms);

 private:
  const SessionEventOptions options_;
  double tokens_;
  int64_t refilled_at_ms_ = 0;
};

}  // namespace batchd::storage
