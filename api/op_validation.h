// Checks at submission that every session will name a registered op, so a typo is a 422 now
// rather than a million failed sessions later. The op's own members (sleep's "ms", ...) are
// checked when each session is prepared, since data items may set them.
#pragma once

#include "core/batch_spec.h"
#include "core/status.h"
#include "pipeline/ops/op_registry.h"

namespace batchd::api {

// kInvalidArgument with the path of the offending value: "/template/op" when the template's
// op is missing, not a string, unknown or not enabled on this daemon (Op::Enabled);
// "/data/g/d/items/k" when a datum sets "/op" to one.
Status ValidateOps(const BatchSpec& spec, const pipeline::OpRegistry& ops);

}  // namespace batchd::api
