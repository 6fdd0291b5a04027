// How a batch's "result" is made: storage folds each completed session's result into it, in the
// completion's own transaction, with the fold of the op that produced it (Op::FoldResult).
#pragma once

#include "pipeline/ops/op_registry.h"
#include "storage/store.h"

namespace batchd::daemon {

// A ResultMerger that asks `ops` (which must outlive the store) to fold results.
storage::ResultMerger MakeResultMerger(const pipeline::OpRegistry& ops);

}  // namespace batchd::daemon
