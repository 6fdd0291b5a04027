// Name -> Op. Built once at start-up (RegisterBuiltinOps) and read-only afterwards, so lookups
// need no lock. Core code never switches on op names.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/engine/timer_service.h"
#include "pipeline/ops/op.h"

namespace batchd::pipeline {

class OpRegistry {
 public:
  // Replaces any op already registered under `name`.
  void Register(std::string name, std::unique_ptr<Op> op);

  // nullptr if no op has this name.
  const Op* Find(std::string_view name) const;

  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<Op>, std::less<>> ops_;
};

// Registers noop, sleep and fail (docs/scheduler.md). `timers` must outlive the registry.
void RegisterBuiltinOps(OpRegistry& registry, TimerService& timers);

}  // namespace batchd::pipeline
