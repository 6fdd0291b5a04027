#include "storage/pg/pg_remote_stop.h"

#include <charconv>

namespace batchd::storage::pg {
namespace {

constexpr std::string_view kSessionPrefix = "session:";
constexpr std::string_view kBatchPrefix = "batch:";

}  // namespace

std::string RemoteStopPayload(const RemoteStop& stop) {
  if (stop.session_id) return std::string(kSessionPrefix) + std::to_string(*stop.session_id);
  return std::string(kBatchPrefix) + stop.batch_public_id.value_or("");
}

std::optional<RemoteStop> ParseRemoteStopPayload(std::string_view payload) {
  if (payload.starts_with(kSessionPrefix)) {
    std::string_view digits = payload.substr(kSessionPrefix.size());
    int64_t id = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size() || id <= 0) return std::nullopt;
    return RemoteStop{.session_id = id};
  }
  if (payload.starts_with(kBatchPrefix) && payload.size() > kBatchPrefix.size()) {
    return RemoteStop{.batch_public_id = std::string(payload.substr(kBatchPrefix.size()))};
  }
  return std::nullopt;
}

}  // namespace batchd::storage::pg
