#include "tests/support/reference_expansion.h"

namespace batchd::testing {

std::vector<ExpectedSession> ExpandReference(const nlohmann::json& batch) {
  const uint64_t runs = batch.value("runs", uint64_t{1});
  const nlohmann::json groups = batch.value("data", nlohmann::json::array());

  std::vector<uint64_t> lengths;
  for (const auto& group : groups) lengths.push_back(group.at(0).at("items").size());

  std::vector<ExpectedSession> out;
  for (uint64_t run = 0; run < runs; ++run) {
    // An odometer over the groups: the last digit turns fastest, like itertools.product.
    std::vector<uint64_t> index(lengths.size(), 0);
    for (bool wrapped = false; !wrapped;) {
      ExpectedSession session{run, index, nlohmann::json::object()};
      for (size_t g = 0; g < groups.size(); ++g) {
        for (const auto& datum : groups[g]) {
          session.values[datum.at("field").get<std::string>()] = datum.at("items").at(index[g]);
        }
      }
      out.push_back(std::move(session));

      // Advance the odometer; wrapping past the first group ends this run.
      wrapped = true;
      for (size_t g = index.size(); g-- > 0;) {
        if (++index[g] < lengths[g]) {
          wrapped = false;
          break;
        }
        index[g] = 0;
      }
    }
  }
  return out;
}

}  // namespace batchd::testing
