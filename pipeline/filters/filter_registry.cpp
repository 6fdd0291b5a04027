#include <exception>

#include "pipeline/codecs/codec_config.h"
#include "pipeline/filters/builtin_filters.h"
#include "pipeline/filters/filter.h"

namespace batchd::pipeline {

void FilterRegistry::Register(std::string id, Factory factory) {
  factories_.Register(std::move(id), std::move(factory));
}

Result<std::unique_ptr<const Filter>> FilterRegistry::Create(const nlohmann::json& config,
                                                             const FilterContext& context) const {
  ASSIGN_OR_RETURN(auto found, FindConfiguredFactory(factories_, config, "filter"));
  const std::string& id = found.id;
  const Factory* factory = found.factory;
  // Factories report through Result; this only keeps a stray library exception inside
  // pipeline/.
  try {
    return (*factory)(config, context);
  } catch (const std::exception& e) {
    return Status::Internal(id + ": creating the filter failed: " + e.what());
  }
}

void RegisterBuiltinFilters(FilterRegistry& registry) {
  registry.Register("delta", CreateDeltaFilter);
  registry.Register("fixedscaleoffset", CreateFixedScaleOffsetFilter);
  registry.Register("transpose", CreateTransposeFilter);
}

}  // namespace batchd::pipeline
