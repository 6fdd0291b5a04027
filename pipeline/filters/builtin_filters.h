// Factories of the built-in filters, one file each, registered by RegisterBuiltinFilters
// (filter_registry.cpp). Each reads its config with CodecConfigReader and fails with
// kInvalidArgument naming the offending member; `config` is known to be an object whose "id" is
// the filter's own.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/filters/filter.h"

namespace batchd::pipeline {

Result<std::unique_ptr<const Filter>> CreateDeltaFilter(const nlohmann::json& config,
                                                        const FilterContext& context);
Result<std::unique_ptr<const Filter>> CreateFixedScaleOffsetFilter(const nlohmann::json& config,
                                                                   const FilterContext& context);
Result<std::unique_ptr<const Filter>> CreateTransposeFilter(const nlohmann::json& config,
                                                            const FilterContext& context);

}  // namespace batchd::pipeline
