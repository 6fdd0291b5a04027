// How events and the stream's control messages look on the wire (docs/api.md, "Events").
// Fields may be added, never renamed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "storage/event_record.h"

namespace batchd::api {

// {"seq", "type", "time", "batch", ...the type's fields}.
nlohmann::json EventJson(const storage::EventRecord& event);

// Control messages carry no seq: they are not events and are never replayed.
// Sent first on every connection: events after `latest_seq` (or after `since`, when replaying)
// follow.
nlohmann::json HelloJson(int64_t latest_seq, std::optional<int64_t> since);
// The replay that `since` asked for is not possible (retention dropped events after it, or the
// log never reached it); the client should refetch state over REST. Live events after
// `latest_seq` follow.
nlohmann::json ResyncJson(int64_t since, int64_t oldest_seq, int64_t latest_seq);
// The replay is done: every stored event up to `seq` that matches was sent; what follows is
// live.
nlohmann::json CaughtUpJson(int64_t seq);

}  // namespace batchd::api
