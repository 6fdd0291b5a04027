#include "storage/event_record.h"

#include <array>
#include <charconv>

namespace batchd::storage {
namespace {

constexpr std::array<const char*, kEventTypeCount> kEventTypeNames = {
    "batch.enqueued", "batch.state",   "batch.progress",  "batch.finished",
    "batch.deleted",  "session.state", "session.progress"};

// Parses a decimal integer at the front of `text`, consuming it.
std::optional<int64_t> TakeNumber(std::string_view& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  text.remove_prefix(static_cast<size_t>(ptr - text.data()));
  return v;
}

}  // namespace

EventRecord SessionStateEvent(std::string batch_public_id, int64_t session_id, SessionState from,
                              SessionState to, int64_t attempt, const SessionOutcome* outcome,
                              int64_t now_ms) {
  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kSessionState;
  e.batch_public_id = std::move(batch_public_id);
  e.session_id = session_id;
  e.from = SessionStateName(from);
  e.to = SessionStateName(to);
  e.attempt = attempt;
  if (outcome != nullptr) {
    e.error_kind = outcome->error_kind;
    e.error_message = outcome->error_message;
    if (outcome->target == SessionOutcome::Target::kRequeue && !outcome->error_kind.empty()) {
      e.retry_at_ms = outcome->not_before_ms;
    }
  }
  return e;
}

const char* EventTypeName(EventType type) { return kEventTypeNames[static_cast<size_t>(type)]; }

std::optional<EventType> ParseEventType(std::string_view name) {
  for (size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (name == kEventTypeNames[i]) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::string EncodeChunkRanges(const std::vector<ChunkRange>& ranges) {
  std::string out;
  for (const auto& [first, last] : ranges) {
    if (last <= first) continue;
    if (!out.empty()) out.push_back(',');
    out += std::to_string(first);
    if (last - first > 1) out += "-" + std::to_string(last - 1);
  }
  return out;
}

std::optional<std::vector<ChunkRange>> DecodeChunkRanges(std::string_view text) {
  std::vector<ChunkRange> out;
  while (!text.empty()) {
    std::optional<int64_t> first = TakeNumber(text);
    if (!first) return std::nullopt;
    int64_t last = *first;
    if (!text.empty() && text.front() == '-') {
      text.remove_prefix(1);
      std::optional<int64_t> end = TakeNumber(text);
      if (!end || *end < *first) return std::nullopt;
      last = *end;
    }
    out.emplace_back(*first, last + 1);
    if (text.empty()) break;
    if (text.front() != ',') return std::nullopt;
    text.remove_prefix(1);
    if (text.empty()) return std::nullopt;  // a trailing comma
  }
  return out;
}

}  // namespace batchd::storage
