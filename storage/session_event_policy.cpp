#include "storage/session_event_policy.h"

#include <algorithm>

namespace batchd::storage {

SessionEventPolicy::SessionEventPolicy(SessionEventOptions options)
    : options_(options), tokens_(options.max_per_second) {}

SessionEventPolicy::Verdict SessionEventPolicy::Judge(uint64_t batch_sessions, bool carries_error,
                                                      bool single_session_request, int64_t now_ms) {
  const bool interesting = batch_sessions <= options_.every_transition_max_sessions ||
                           carries_error || single_session_request;
  if (!interesting) return Verdict::kIgnore;
  if (refilled_at_ms_ == 0) refilled_at_ms_ = now_ms;
  if (now_ms > refilled_at_ms_) {
    tokens_ = std::min(options_.max_per_second,
                       tokens_ + options_.max_per_second * (now_ms - refilled_at_ms_) / 1000.0);
    refilled_at_ms_ = now_ms;
  }
  if (tokens_ < 1) return Verdict::kSuppress;
  tokens_ -= 1;
  return Verdict::kEmit;
}

}  // namespace batchd::storage
