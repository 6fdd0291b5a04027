// The rule every store applies to keys before touching its backend (see chunk_store.h): a key
// is a relative "/"-separated path whose components are neither empty, "." nor "..", with no
// NUL byte. Shared by all stores so that every store refuses exactly the same keys.
#pragma once

#include <string_view>

#include "core/status.h"

namespace batchd::pipeline {

// OK, or kInvalidArgument naming the key and what is wrong with it.
Status ValidateStoreKey(std::string_view key);

}  // namespace batchd::pipeline
