// The stored forms every engine shares for a batch: its public id and its shape column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace batchd::storage {

// 64 random bits as 16 hex digits: unguessable enough for a public id, short enough to type.
std::string NewPublicId();

// Group lengths as the `shape` column holds them: comma-separated ("2,3,4"; "" for none).
std::string JoinShape(const std::vector<uint64_t>& lengths);
std::vector<uint64_t> SplitShape(std::string_view text);

}  // namespace batchd::storage
