// Cooperative cancellation of one running session. The scheduler cancels; the op observes the
// token (polls canceled() or registers OnCancel) and ends early.
#pragma once

#include <functional>
#include <vector>

#include "core/mutex.h"

namespace batchd::pipeline {

class CancelToken {
 public:
  enum class Reason {
    kNone,
    kCanceled,  // a user canceled the session or its batch: it ends `canceled`
    kShutdown,  // the daemon is stopping: it goes back to the queue and resumes later
  };

  // The first reason wins; later calls change nothing. Runs the OnCancel callbacks (on the
  // calling thread) the first time.
  void Cancel(Reason reason);

  Reason reason() const;
  bool canceled() const { return reason() != Reason::kNone; }

  // Runs `callback` once when the token is canceled, or at once (on this thread) if it already
  // is. Callbacks must be quick and must not call back into the token. The token keeps
  // `callback` until it is canceled or destroyed: a callback that owns the token, directly or
  // through an op's done callback, must drop that once the run is over (see SleepOp), or the
  // two keep each other alive forever.
  void OnCancel(std::function<void()> callback);

 private:
  mutable Mutex mu_;
  Reason reason_ GUARDED_BY(mu_) = Reason::kNone;
  std::vector<std::function<void()>> callbacks_ GUARDED_BY(mu_);
};

}  // namespace batchd::pipeline
