#include "storage/records.h"

#include <array>

namespace batchd::storage {
namespace {

constexpr std::array<const char*, kSessionStateCount> kSessionStateNames = {
    "uninitialized", "in_progress", "completed", "error", "canceled"};

}  // namespace

const char* SessionStateName(SessionState state) {
  return kSessionStateNames[static_cast<size_t>(state)];
}

std::optional<SessionState> ParseSessionState(std::string_view name) {
  for (size_t i = 0; i < kSessionStateNames.size(); ++i) {
    if (name == kSessionStateNames[i]) return static_cast<SessionState>(i);
  }
  return std::nullopt;
}

SessionState TargetState(SessionOutcome::Target target) {
  switch (target) {
    case SessionOutcome::Target::kCompleted:
      return SessionState::kCompleted;
    case SessionOutcome::Target::kError:
      return SessionState::kError;
    case SessionOutcome::Target::kCanceled:
      return SessionState::kCanceled;
    case SessionOutcome::Target::kRequeue:
      return SessionState::kUninitialized;
  }
  return SessionState::kError;
}

}  // namespace batchd::storage
