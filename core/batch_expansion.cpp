// The mixed-radix arithmetic between a session's ordinal and its place in the batch; see
// batch_expansion.h. Sessions store only ordinals, so these run every time one is shown.
#include "core/batch_expansion.h"

#include <cassert>

namespace batchd {

BatchShape BatchShape::Of(const BatchSpec& spec) {
  BatchShape shape;
  shape.runs = static_cast<uint64_t>(spec.runs);
  shape.group_lengths.reserve(spec.data.size());
  for (const DataGroup& group : spec.data) {
    // Datums of a group are zipped and validated to equal length, so the first one speaks for
    // all; an empty group (never produced by ParseBatchSpec) yields no sessions at all.
    shape.group_lengths.push_back(group.empty() ? 0 : group.front().items.size());
  }
  return shape;
}

std::optional<uint64_t> BatchShape::SessionCount() const {
  // A zero factor makes the count 0 even if the others alone would overflow.
  if (runs == 0) return 0;
  for (uint64_t length : group_lengths) {
    if (length == 0) return 0;
  }
  uint64_t count = runs;
  for (uint64_t length : group_lengths) {
    if (__builtin_mul_overflow(count, length, &count)) return std::nullopt;
  }
  return count;
}

SessionIndex IndexOfOrdinal(const BatchShape& shape, uint64_t ordinal) {
  SessionIndex where;
  where.index.resize(shape.group_lengths.size());
  // Peel digits off the least significant end: the last group varies fastest.
  for (size_t g = shape.group_lengths.size(); g-- > 0;) {
    const uint64_t length = shape.group_lengths[g];
    assert(length > 0 && "a batch with an empty group has no sessions");
    where.index[g] = ordinal % length;
    ordinal /= length;
  }
  where.run = ordinal;
  assert(where.run < shape.runs && "ordinal out of range");
  return where;
}

uint64_t OrdinalOfIndex(const BatchShape& shape, const SessionIndex& index) {
  assert(index.index.size() == shape.group_lengths.size());
  uint64_t ordinal = index.run;
  for (size_t g = 0; g < shape.group_lengths.size(); ++g) {
    ordinal = ordinal * shape.group_lengths[g] + index.index[g];
  }
  return ordinal;
}

nlohmann::json SessionValues(const BatchSpec& spec, const SessionIndex& index) {
  assert(index.index.size() == spec.data.size());
  nlohmann::json values = nlohmann::json::object();
  for (size_t g = 0; g < spec.data.size(); ++g) {
    for (const Datum& datum : spec.data[g]) {
      assert(index.index[g] < datum.items.size());
      values[datum.field] = datum.items[index.index[g]];
    }
  }
  return values;
}

nlohmann::json SubstitutedTemplate(const BatchSpec& spec, const SessionIndex& index) {
  assert(index.index.size() == spec.data.size());
  nlohmann::json job = spec.job_template;
  for (size_t g = 0; g < spec.data.size(); ++g) {
    for (const Datum& datum : spec.data[g]) {
      assert(index.index[g] < datum.items.size());
      // Validated fields are well-formed pointers to existing members, so neither the pointer
      // nor the assignment can throw, and assignment replaces rather than inserts.
      job[nlohmann::json::json_pointer(datum.field)] = datum.items[index.index[g]];
    }
  }
  return job;
}

}  // namespace batchd
