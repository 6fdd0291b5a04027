#include "pipeline/ops/op_registry.h"

namespace batchd::pipeline {

void OpRegistry::Register(std::string name, std::unique_ptr<Op> op) {
  ops_[std::move(name)] = std::move(op);
}

const Op* OpRegistry::Find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : it->second.get();
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, op] : ops_) names.push_back(name);
  return names;
}

}  // namespace batchd::pipeline
