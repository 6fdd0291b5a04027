#include "pipeline/engine/byte_budget.h"

#include <algorithm>

namespace batchd::pipeline {

int64_t ByteBudget::Fitting(int64_t each) const {
  assert(each > 0 && "ByteBudget::Fitting of empty reservations");
  // Past the limit when a lone oversized reservation passed: then nothing more fits.
  const int64_t room = std::max<int64_t>(limit_ - reserved_, 0) / each;
  return std::max<int64_t>(room, holders_ == 0 ? 1 : 0);
}

}  // namespace batchd::pipeline
