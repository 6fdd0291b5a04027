// The v1 batch document (see docs/api.md and ../shared/design/ARCHITECTURE.md): a job template
// plus groups of datums whose items are substituted into the template at JSON Pointer `field`s.
//
// ParseBatchSpec is the single gate for submitted batches: everything it returns is valid, and
// every rejection carries the JSON Pointer (into the submitted document) of the offending part.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd {

// One datum: the values `items` take, in order, at `field` (a JSON Pointer into the template).
struct Datum {
  std::string field;
  nlohmann::json items;  // always a non-empty JSON array
};

// Datums of one group are zipped: item k of every datum goes into the same session.
using DataGroup = std::vector<Datum>;

struct BatchSpec {
  std::string name;
  int64_t priority = 0;
  int64_t runs = 1;
  std::optional<int64_t> max_running;  // at most this many of its sessions run at once
  int64_t max_attempts = 3;
  nlohmann::json job_template;  // "template" on the wire; always a JSON object
  std::vector<DataGroup> data;
};

// The longest batch name accepted at submit, in bytes of UTF-8 (docs/api.md, "Limits").
inline constexpr size_t kMaxBatchNameBytes = 1024;

struct BatchSpecLimits {
  // A batch expanding to more sessions than this is refused with kLimitExceeded.
  uint64_t max_sessions = 10'000'000;
  // ParseBatchSpec refuses text nested deeper than this (kMalformed): nlohmann::json parses,
  // copies and compares recursively, so a body of ~60k '[' would overflow the stack.
  int max_nesting_depth = 64;
  // A longer `name` is refused (kInvalidArgument at /name): it is echoed in every batch.*
  // event and every batch list, so an 8 MiB name made each page of the event log gigabytes.
  size_t max_name_bytes = kMaxBatchNameBytes;

  // The limits for re-reading a spec the daemon stored earlier: it was validated when it was
  // submitted, maybe under older limits (names were unbounded), and must still be readable.
  static BatchSpecLimits Stored() {
    return {.max_sessions = UINT64_MAX, .max_name_bytes = SIZE_MAX};
  }
};

// Parses `json_text` and validates it as a v1 batch.
// kMalformed: not JSON, or nested deeper than limits.max_nesting_depth (path empty).
// kInvalidArgument: wrong type, missing or unknown member, a field pointer that is not in the
// template or is used twice (or nested in another used field), unequal item counts within a
// group, empty items, runs < 1, max_attempts < 1, max_running < 1, a name longer than
// limits.max_name_bytes, or a session count that overflows 64 bits (path names the member).
// kLimitExceeded: more sessions than limits.max_sessions (path "/data" or "/runs").
// Messages are valid UTF-8 whatever the input holds, so they can be sent back in JSON.
Result<BatchSpec> ParseBatchSpec(std::string_view json_text, const BatchSpecLimits& limits);

// Same validation on an already-parsed document.
Result<BatchSpec> BatchSpecFromJson(const nlohmann::json& doc, const BatchSpecLimits& limits);

// The canonical wire form (all members present); ParseBatchSpec(BatchSpecToJson(s)) == s.
nlohmann::json BatchSpecToJson(const BatchSpec& spec);

}  // namespace batchd
