#include "pipeline/engine/decode_tasks.h"

namespace batchd::pipeline {

bool DecodeTasks::Submitted(Claim claim) {
  assert(claim.tasks_ > 0 && "DecodeTasks::Submitted of an empty claim");
  assert(claims_out_ > 0);
  claim.tasks_ = 0;
  return --claims_out_ == 0;
}

}  // namespace batchd::pipeline
