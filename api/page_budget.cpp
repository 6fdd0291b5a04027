#include "api/page_budget.h"

#include <algorithm>

namespace batchd::api {
namespace {

template <typename It>
size_t CountWithin(It begin, It end, size_t budget_bytes) {
  size_t count = 0;
  size_t bytes = 0;
  for (It it = begin; it != end; ++it) {
    const size_t size = it->size() + (count > 0 ? 1 : 0);  // the comma before it
    if (count > 0 && size > budget_bytes - std::min(bytes, budget_bytes)) break;
    bytes += size;
    ++count;
  }
  return count;
}

}  // namespace

size_t ItemsWithin(std::span<const std::string> items, size_t budget_bytes) {
  return CountWithin(items.begin(), items.end(), budget_bytes);
}

size_t LastItemsWithin(std::span<const std::string> items, size_t budget_bytes) {
  return CountWithin(items.rbegin(), items.rend(), budget_bytes);
}

std::string JsonArrayOf(std::span<const std::string> items) {
  size_t size = 2;
  for (const std::string& item : items) size += item.size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
  }
  out += ']';
  return out;
}

}  // namespace batchd::api
