#include "api/op_validation.h"

namespace batchd::api {
namespace {

Status CheckOpValue(const nlohmann::json& value, const pipeline::OpRegistry& ops,
                    const std::string& path) {
  if (!value.is_string()) {
    return Status::InvalidArgument(
        "op must be a string naming an op (" + ops.KnownNames() + "), got " + value.dump(), path);
  }
  const pipeline::Op* op = ops.Find(value.get<std::string>());
  if (op == nullptr) {
    return Status::InvalidArgument(
        "unknown op \"" + value.get<std::string>() + "\"; known ops: " + ops.KnownNames(), path);
  }
  if (Status enabled = op->Enabled(); !enabled.ok()) {
    return Status::InvalidArgument(enabled.message(), path);
  }
  return Status::Ok();
}

// The op's submit-time member checks (Op::SubmitCheckedMembers) over the template's values and
// every data item substituted at or above those members: a datum at "/source" carries
// "/source/url" inside each item. Each distinct item is checked once, never each session.
Status CheckOpMembers(const BatchSpec& spec, const pipeline::Op& op) {
  for (const std::string& member : op.SubmitCheckedMembers()) {
    bool template_replaced = false;
    for (size_t g = 0; g < spec.data.size(); ++g) {
      for (size_t d = 0; d < spec.data[g].size(); ++d) {
        const std::string& field = spec.data[g][d].field;
        const bool at = field == member;
        const bool above = member.size() > field.size() && member.starts_with(field) &&
                           member[field.size()] == '/';
        const bool below = field.size() > member.size() && field.starts_with(member) &&
                           field[member.size()] == '/';
        if (below) template_replaced = true;  // part of the member varies: checked at dequeue
        if (!at && !above) continue;
        template_replaced = true;
        const nlohmann::json::json_pointer inner(member.substr(field.size()));
        const nlohmann::json& items = spec.data[g][d].items;
        for (size_t k = 0; k < items.size(); ++k) {
          const std::string path = "/data/" + std::to_string(g) + "/" + std::to_string(d) +
                                   "/items/" + std::to_string(k) + member.substr(field.size());
          if (above && !(items[k].is_object() && items[k].contains(inner))) continue;
          if (Status s = op.CheckMember(member, items[k].at(inner)); !s.ok()) {
            return Status(s.code(), s.message(), path);
          }
        }
      }
    }
    if (template_replaced) continue;
    const nlohmann::json::json_pointer pointer(member);
    if (!spec.job_template.contains(pointer)) continue;  // Prepare says what is missing
    if (Status s = op.CheckMember(member, spec.job_template.at(pointer)); !s.ok()) {
      return Status(s.code(), s.message(), "/template" + member);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateOps(const BatchSpec& spec, const pipeline::OpRegistry& ops) {
  for (size_t g = 0; g < spec.data.size(); ++g) {
    for (size_t d = 0; d < spec.data[g].size(); ++d) {
      if (spec.data[g][d].field != "/op") continue;
      const nlohmann::json& items = spec.data[g][d].items;
      for (size_t k = 0; k < items.size(); ++k) {
        RETURN_IF_ERROR(CheckOpValue(items[k], ops,
                                     "/data/" + std::to_string(g) + "/" + std::to_string(d) +
                                         "/items/" + std::to_string(k)));
      }
      return Status::Ok();  // every session takes its op from this datum
    }
  }
  auto op = spec.job_template.find("op");
  if (op == spec.job_template.end()) {
    return Status::InvalidArgument("the template needs an \"op\" (" + ops.KnownNames() + ")",
                                   "/template/op");
  }
  RETURN_IF_ERROR(CheckOpValue(*op, ops, "/template/op"));
  return CheckOpMembers(spec, *ops.Find(op->get<std::string>()));
}

}  // namespace batchd::api
