// The payloads of NOTIFY batchd_stop, by which one node tells the others to stop sessions
// (canceled through it, or rescued from a node thought dead): "session:<id>" or
// "batch:<public id>".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/pg/pg_store.h"

namespace batchd::storage::pg {

inline constexpr const char* kStopChannel = "batchd_stop";

// The payload for `stop` (exactly one of its fields set; session_id wins if both are).
std::string RemoteStopPayload(const RemoteStop& stop);
// nullopt for a payload of neither form (an unknown prefix, a session id that is not a
// positive integer, an empty batch id).
std::optional<RemoteStop> ParseRemoteStopPayload(std::string_view payload);

}  // namespace batchd::storage::pg
