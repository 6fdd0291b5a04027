// Every list the API answers is bounded by bytes as well as by `limit` (docs/api.md, "Limits"):
// a page ends early once its items would pass the byte budget, with a cursor to go on from,
// so no page is bigger than the budget however large each item is (names, messages), except a
// page of one item, which is returned alone so that paging always advances.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace batchd::api {

// --max-page-bytes: what the items of one page may take, in bytes of JSON text.
inline constexpr size_t kDefaultMaxPageBytes = size_t{4} << 20;

// How many of the rendered items, taken in order, fit in `budget_bytes` together with the
// commas between them: at least one (if there is one), however large.
size_t ItemsWithin(std::span<const std::string> items, size_t budget_bytes);

// The same, taken from the end: for pages that keep the newest items (?tail=N).
size_t LastItemsWithin(std::span<const std::string> items, size_t budget_bytes);

// "[a,b,...]" of the rendered items.
std::string JsonArrayOf(std::span<const std::string> items);

}  // namespace batchd::api
