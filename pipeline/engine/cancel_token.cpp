#include "pipeline/engine/cancel_token.h"

namespace batchd::pipeline {

void CancelToken::Cancel(Reason reason) {
  std::vector<std::function<void()>> run;
  {
    MutexLock lock(mu_);
    if (reason_ != Reason::kNone || reason == Reason::kNone) return;
    reason_ = reason;
    run.swap(callbacks_);
  }
  for (auto& cb : run) cb();
}

CancelToken::Reason CancelToken::reason() const {
  MutexLock lock(mu_);
  return reason_;
}

void CancelToken::OnCancel(std::function<void()> callback) {
  {
    MutexLock lock(mu_);
    if (reason_ == Reason::kNone) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

}  // namespace batchd::pipeline
