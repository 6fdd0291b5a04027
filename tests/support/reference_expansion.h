// An independent, deliberately naive model of batch expansion (docs/api.md, "Sessions"), to
// check what the daemon derives from a session's ordinal. It enumerates sessions with nested
// loops instead of decomposing ordinals, so it shares no arithmetic with core/batch_expansion.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace batchd::testing {

struct ExpectedSession {
  uint64_t run = 0;
  std::vector<uint64_t> index;  // one item index per group
  nlohmann::json values;        // {"<field pointer>": item, ...}
};

// Every session of a valid submitted batch document (with "runs" and "data" optional, as on
// the wire), in ordinal order: vector position == ordinal. Small batches only.
std::vector<ExpectedSession> ExpandReference(const nlohmann::json& batch);

}  // namespace batchd::testing
