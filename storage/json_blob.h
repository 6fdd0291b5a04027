// How a batch's spec is kept in batch.spec: its canonical JSON text, zstd-compressed. Specs with
// long item lists compress 5-20x, and they are read only to materialize or show a session.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace batchd::storage {

std::string CompressSpec(std::string_view json_text);

// kIoError naming the batch's column if the blob is not a valid zstd frame.
Result<std::string> DecompressSpec(std::string_view blob);

}  // namespace batchd::storage
