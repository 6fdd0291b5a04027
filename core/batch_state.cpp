#include "core/batch_state.h"

#include <array>
#include <cstddef>

namespace batchd {
namespace {

constexpr std::array<const char*, 7> kBatchStateNames = {"enqueuing", "queued", "running", "paused",
                                                         "completed", "failed", "canceled"};

}  // namespace

const char* BatchStateName(BatchState state) {
  return kBatchStateNames[static_cast<size_t>(state)];
}

std::optional<BatchState> ParseBatchState(std::string_view name) {
  for (size_t i = 0; i < kBatchStateNames.size(); ++i) {
    if (name == kBatchStateNames[i]) return static_cast<BatchState>(i);
  }
  return std::nullopt;
}

bool IsFinished(BatchState state) {
  return state == BatchState::kCompleted || state == BatchState::kFailed ||
         state == BatchState::kCanceled;
}

bool IsFinished(std::string_view state_name) {
  const std::optional<BatchState> state = ParseBatchState(state_name);
  return state && IsFinished(*state);
}

BatchState DeriveBatchState(int64_t uninitialized, int64_t in_progress, int64_t completed,
                            int64_t error, int64_t canceled, bool paused) {
  if (uninitialized == 0 && in_progress == 0) {
    return error > 0      ? BatchState::kFailed
           : canceled > 0 ? BatchState::kCanceled
                          : BatchState::kCompleted;
  }
  if (paused) return BatchState::kPaused;
  return in_progress + completed + error + canceled > 0 ? BatchState::kRunning
                                                        : BatchState::kQueued;
}

}  // namespace batchd
