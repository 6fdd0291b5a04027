// Fuzzes the gate for submitted batches, ParseBatchSpec (core/batch_spec.h), with the limits the
// daemon uses, and checks what the header promises of everything it accepts: the canonical form
// parses back to the same spec, the session count fits the limit, and every ordinal maps to an
// index and back, with values that land where their fields point.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/batch_expansion.h"
#include "core/batch_spec.h"
#include "fuzz/fuzz_check.h"

namespace batchd::fuzz {
namespace {

void CheckRejection(const Status& status) {
  const StatusCode code = status.code();
  FUZZ_CHECK(code == StatusCode::kMalformed || code == StatusCode::kInvalidArgument ||
                 code == StatusCode::kLimitExceeded,
             status.ToString());
  // Malformed text has no place to point at, except a member named twice (its second place).
  if (code == StatusCode::kMalformed && status.message().rfind("duplicate member", 0) != 0) {
    FUZZ_CHECK(status.path().empty(), status.ToString());
  }
  // The path is a JSON Pointer into the submitted document: "" or "/...".
  FUZZ_CHECK(status.path().empty() || status.path().front() == '/', status.ToString());
  // The API sends the message and path back inside a JSON body.
  nlohmann::json body = {{"message", status.message()}, {"path", status.path()}};
  (void)body.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

void CheckOrdinal(const BatchSpec& spec, const BatchShape& shape, uint64_t ordinal) {
  const SessionIndex index = IndexOfOrdinal(shape, ordinal);
  FUZZ_CHECK(index.run < shape.runs, std::to_string(ordinal));
  FUZZ_CHECK(OrdinalOfIndex(shape, index) == ordinal, std::to_string(ordinal));
  const nlohmann::json values = SessionValues(spec, index);
  const nlohmann::json job = SubstitutedTemplate(spec, index);
  for (const auto& [field, value] : values.items()) {
    FUZZ_CHECK(job.at(nlohmann::json::json_pointer(field)) == value, field);
  }
}

}  // namespace
}  // namespace batchd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchd;
  const BatchSpecLimits limits;  // the daemon's defaults
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<BatchSpec> spec = ParseBatchSpec(text, limits);
  if (!spec.ok()) {
    fuzz::CheckRejection(spec.status());
    return 0;
  }

  // What the API stores (routes.cpp dumps it) must parse back to the same spec.
  const nlohmann::json canonical = BatchSpecToJson(*spec);
  const std::string stored = canonical.dump();
  Result<BatchSpec> again = ParseBatchSpec(stored, limits);
  FUZZ_CHECK(again.ok(), again.status().ToString());
  FUZZ_CHECK(BatchSpecToJson(*again) == canonical, stored);

  const BatchShape shape = BatchShape::Of(*spec);
  const std::optional<uint64_t> count = shape.SessionCount();
  FUZZ_CHECK(count && *count >= 1 && *count <= limits.max_sessions, stored);
  fuzz::CheckOrdinal(*spec, shape, 0);
  fuzz::CheckOrdinal(*spec, shape, *count / 2);
  fuzz::CheckOrdinal(*spec, shape, *count - 1);
  return 0;
}
