// How a batch expands into sessions, and how a session's values are recovered from its ordinal.
//
// Semantics (the same as InvokeAI's batch manager): the datums of one group are zipped, the
// groups are multiplied in order (the last group varies fastest, like itertools.product), and
// the whole product repeats `runs` times. A session stores only its `ordinal`, its position in
// that sequence; everything else is derived here:
//
//   ordinal = ((run * L0 + i0) * L1 + i1) * ... + i_{n-1}      (mixed radix, run most significant)
//
// where L_g is the item count of group g and i_g the session's item index in group g.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/batch_spec.h"

namespace batchd {

// The mixed-radix shape of a batch: its group lengths and runs.
struct BatchShape {
  std::vector<uint64_t> group_lengths;
  uint64_t runs = 1;

  static BatchShape Of(const BatchSpec& spec);

  // Number of sessions: product of group_lengths times runs (1 * runs with no groups).
  // nullopt if it overflows 64 bits.
  std::optional<uint64_t> SessionCount() const;
};

// Where one session sits in the batch.
struct SessionIndex {
  uint64_t run = 0;
  std::vector<uint64_t> index;  // one item index per group
};

// Decomposes `ordinal` (must be < shape.SessionCount()) into its run and per-group indices.
SessionIndex IndexOfOrdinal(const BatchShape& shape, uint64_t ordinal);

// Inverse of IndexOfOrdinal.
uint64_t OrdinalOfIndex(const BatchShape& shape, const SessionIndex& index);

// The values substituted for a session: {"<field pointer>": item, ...} over every datum.
nlohmann::json SessionValues(const BatchSpec& spec, const SessionIndex& index);

// The job template with the session's values substituted at their pointers.
nlohmann::json SubstitutedTemplate(const BatchSpec& spec, const SessionIndex& index);

}  // namespace batchd
