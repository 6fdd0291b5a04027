// How JSON documents are kept in BLOB columns (batch.spec, session_state.state): the text,
// zstd-compressed. Specs with long item lists compress 5-20x, and both are read only to
// materialize or show a session.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace batchd::storage {

std::string CompressJson(std::string_view json_text);

// kIoError if the blob is not a zstd frame of known size (a corrupt row).
Result<std::string> DecompressJson(std::string_view blob);

}  // namespace batchd::storage
