#include "daemon/result_folding.h"

namespace batchd::daemon {

storage::ResultMerger MakeResultMerger(const pipeline::OpRegistry& ops) {
  return [&ops](std::string_view op_name, const std::optional<std::string>& aggregate,
                std::string_view result) -> Result<std::optional<std::string>> {
    const pipeline::Op* op = ops.Find(op_name);
    if (op == nullptr) return std::optional<std::string>();
    nlohmann::json current =
        aggregate ? nlohmann::json::parse(*aggregate, nullptr, false) : nlohmann::json();
    const nlohmann::json add = nlohmann::json::parse(result, nullptr, false);
    if (current.is_discarded() || add.is_discarded()) {
      return Status::Internal("a stored result is not JSON");
    }
    ASSIGN_OR_RETURN(nlohmann::json folded, op->FoldResult(current, add));
    if (folded.is_null()) return std::optional<std::string>();
    return std::optional<std::string>(folded.dump());
  };
}

}  // namespace batchd::daemon
