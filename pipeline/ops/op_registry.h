// Name -> Op. Built once at start-up (RegisterBuiltinOps) and read-only afterwards, so lookups
// need no lock. Core code never switches on op names.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry.h"
#include "pipeline/engine/timer_service.h"
#include "pipeline/ops/op.h"

namespace batchd::pipeline {

class OpRegistry {
 public:
  // Replaces any op already registered under `name`.
  void Register(std::string name, std::unique_ptr<Op> op);

  // nullptr if no op has this name.
  const Op* Find(std::string_view name) const;

  std::vector<std::string> Names() const { return ops_.Names(); }
  // "a, b, c": for error messages.
  std::string KnownNames() const { return ops_.KnownNames(); }

 private:
  Registry<std::unique_ptr<Op>> ops_;
};

// Registers noop, sleep and fail (docs/scheduler.md). `timers` must outlive the registry.
void RegisterBuiltinOps(OpRegistry& registry, TimerService& timers);

}  // namespace batchd::pipeline
