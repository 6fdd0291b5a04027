#include "pipeline/ops/op_registry.h"

namespace batchd::pipeline {

void OpRegistry::Register(std::string name, std::unique_ptr<Op> op) {
  ops_.Register(std::move(name), std::move(op));
}

const Op* OpRegistry::Find(std::string_view name) const {
  const std::unique_ptr<Op>* op = ops_.Find(name);
  return op == nullptr ? nullptr : op->get();
}

}  // namespace batchd::pipeline
