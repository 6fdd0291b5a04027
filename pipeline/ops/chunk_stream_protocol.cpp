#include "pipeline/ops/chunk_stream_protocol.h"

#include <algorithm>
#include <cmath>

#include "pipeline/ops/command_job.h"

namespace batchd::pipeline {
namespace {

// An answer line is small; nesting past this is refused before parsing (the JSON library
// recurses over the depth).
constexpr int kMaxAnswerDepth = 32;

bool IsReduction(const std::string& r) {
  return r == "sum" || r == "min" || r == "max" || r == "count";
}

}  // namespace

std::string StreamHelloLine(const nlohmann::json& array, const nlohmann::json& sink) {
  nlohmann::json hello = {{"batchd", "chunks"}, {"version", 1}, {"array", array}, {"sink", sink}};
  return hello.dump() + "\n";
}

std::string ChunkHeaderLine(const std::string& key, std::span<const int64_t> coords,
                            std::span<const int64_t> shape, const std::string& dtype,
                            uint64_t bytes, bool missing) {
  const nlohmann::json header = {{"key", key},
                                 {"coords", std::vector<int64_t>(coords.begin(), coords.end())},
                                 {"shape", std::vector<int64_t>(shape.begin(), shape.end())},
                                 {"dtype", dtype},
                                 {"bytes", bytes},
                                 {"missing", missing}};
  return header.dump() + "\n";
}

std::string StreamEndLine() { return "{\"end\":true}\n"; }

Result<ChunkAnswer> ParseAnswerLine(std::string_view line, const std::string& key,
                                    std::optional<uint64_t> output_bytes) {
  if (JsonNestedDeeper(line, kMaxAnswerDepth)) {
    return Status::InvalidArgument("the program's answer is nested deeper than " +
                                   std::to_string(kMaxAnswerDepth));
  }
  nlohmann::json answer = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    std::string start(line.substr(0, 60));
    for (char& c : start) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    return Status::InvalidArgument("the program's answer is not a JSON object line (it starts \"" +
                                   start + "\")");
  }
  const auto k = answer.find("key");
  if (k == answer.end() || !k->is_string()) {
    return Status::InvalidArgument("the program's answer has no \"key\" string");
  }
  if (k->get_ref<const std::string&>() != key) {
    return Status::InvalidArgument("the program answered chunk \"" +
                                   k->get_ref<const std::string&>() +
                                   "\" where this chunk was next (answers come in the order sent)");
  }
  if (const auto e = answer.find("error"); e != answer.end() && !e->is_null()) {
    return Status::FailedPrecondition("the program reported: " +
                                      (e->is_string() ? e->get<std::string>() : e->dump()));
  }
  ChunkAnswer out;
  out.result = answer.value("result", nlohmann::json::object());
  if (out.result.is_null()) out.result = nlohmann::json::object();
  if (!out.result.is_object()) {
    return Status::InvalidArgument("the program's \"result\" must be an object, got " +
                                   std::string(out.result.type_name()));
  }
  const auto bytes = answer.find("bytes");
  const auto skip_member = answer.find("skip");
  const bool skip =
      skip_member != answer.end() && skip_member->is_boolean() && skip_member->get<bool>();
  if (bytes != answer.end()) {
    if (!output_bytes) {
      return Status::InvalidArgument(
          "the program answered with an output chunk (\"bytes\"), but the job has no \"sink\"");
    }
    if (!bytes->is_number_unsigned() || bytes->get<uint64_t>() != *output_bytes) {
      return Status::InvalidArgument("the program's output chunk has \"bytes\": " + bytes->dump() +
                                     "; the sink chunk takes exactly " +
                                     std::to_string(*output_bytes));
    }
    out.has_output = true;
    out.output_bytes = *output_bytes;
  } else if (output_bytes && !skip) {
    return Status::InvalidArgument(
        "the job has a \"sink\": the answer needs \"bytes\" (an output chunk follows) or "
        "\"skip\": true");
  }
  return out;
}

Status AnswerReader::Feed(std::string_view bytes) {
  while (error_.ok() && !bytes.empty()) {
    if (payload_left_ > 0) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, bytes.size()));
      payload_.insert(payload_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
      payload_left_ -= take;
      bytes.remove_prefix(take);
      if (payload_left_ == 0) {
        Bytes done;
        done.swap(payload_);
        error_ = on_payload_(std::move(done));
      }
      continue;
    }
    const size_t newline = bytes.find('\n');
    const size_t take = newline == std::string_view::npos ? bytes.size() : newline;
    if (line_.size() + take + 1 > kMaxAnswerLineBytes) {
      error_ = Status::InvalidArgument("the program's answer line is longer than " +
                                       std::to_string(kMaxAnswerLineBytes) + " bytes");
      break;
    }
    line_.append(bytes.substr(0, take));
    if (newline == std::string_view::npos) break;
    bytes.remove_prefix(take + 1);
    std::string line;
    line.swap(line_);
    Result<uint64_t> payload = on_line_(line);
    if (!payload.ok()) {
      error_ = payload.status();
      break;
    }
    if (*payload > 0) {
      payload_.reserve(static_cast<size_t>(*payload));
      payload_left_ = *payload;
    } else {
      error_ = on_payload_(Bytes());
    }
  }
  return error_;
}

Result<ResultFold> ResultFold::Create(const nlohmann::json& reduce) {
  RETURN_IF_ERROR(CheckReduce(reduce));
  ResultFold fold;
  if (reduce.is_object()) {
    for (const auto& [member, r] : reduce.items()) fold.reduce_[member] = r.get<std::string>();
  }
  return fold;
}

Status ResultFold::CheckReduce(const nlohmann::json& reduce) {
  if (reduce.is_null()) return Status::Ok();
  if (!reduce.is_object() || reduce.size() > kMaxResultMembers) {
    return Status::InvalidArgument(
        "\"reduce\" must be an object of result member -> \"sum\", \"min\", \"max\" or "
        "\"count\" (at most " +
        std::to_string(kMaxResultMembers) + " members)");
  }
  for (const auto& [member, r] : reduce.items()) {
    if (!r.is_string() || !IsReduction(r.get<std::string>())) {
      return Status::InvalidArgument("\"reduce\" member \"" + member +
                                     "\" must be \"sum\", \"min\", \"max\" or \"count\", got " +
                                     r.dump());
    }
  }
  return Status::Ok();
}

std::string ResultFold::ReductionOf(const std::string& member) const {
  const auto it = reduce_.find(member);
  return it == reduce_.end() ? "sum" : it->second;
}

Status ResultFold::Check(const nlohmann::json& result) const {
  size_t added = 0;
  for (const auto& [member, v] : result.items()) {
    if (!values_.contains(member)) ++added;
    if (ReductionOf(member) != "count" && !v.is_number()) {
      return Status::InvalidArgument("the program's result member \"" + member +
                                     "\" must be a number to " + ReductionOf(member) + ", got " +
                                     std::string(v.type_name()));
    }
  }
  if (values_.size() + added > kMaxResultMembers) {
    return Status::InvalidArgument("the program's results name more than " +
                                   std::to_string(kMaxResultMembers) + " members");
  }
  return Status::Ok();
}

void ResultFold::Add(const nlohmann::json& result) {
  for (const auto& [member, v] : result.items()) {
    const std::string r = ReductionOf(member);
    const auto it = values_.find(member);
    if (r == "count") {
      values_[member] = (it == values_.end() ? int64_t{0} : it->get<int64_t>()) + 1;
      continue;
    }
    if (it == values_.end()) {
      values_[member] = v;
    } else if (r == "sum") {
      if (it->is_number_integer() && v.is_number_integer() && std::abs(it->get<double>()) < 9e15 &&
          std::abs(v.get<double>()) < 9e15) {
        *it = it->get<int64_t>() + v.get<int64_t>();
      } else {
        *it = it->get<double>() + v.get<double>();
      }
    } else if (r == "min") {
      if (v.get<double>() < it->get<double>()) *it = v;
    } else if (v.get<double>() > it->get<double>()) {
      *it = v;
    }
  }
}

void ResultFold::Merge(const ResultFold& other) {
  for (const auto& [member, r] : other.reduce_) reduce_.emplace(member, r);
  for (const auto& [member, v] : other.values_.items()) {
    const auto it = values_.find(member);
    if (it == values_.end()) {
      values_[member] = v;
      continue;
    }
    const std::string r = ReductionOf(member);
    if (r == "count") {
      *it = it->get<int64_t>() + v.get<int64_t>();
    } else {
      nlohmann::json single = {{member, v}};
      // min, max and sum of two folded values are the reduction of those values.
      ResultFold one;
      one.reduce_ = reduce_;
      one.values_ = {{member, *it}};
      one.Add(single);
      *it = one.values_[member];
    }
  }
}

nlohmann::json ResultFold::ToJson() const {
  nlohmann::json reduce = nlohmann::json::object();
  for (const auto& [member, r] : reduce_) reduce[member] = r;
  return {{"values", values_}, {"reduce", reduce}};
}

Result<ResultFold> ResultFold::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Status::InvalidArgument("a result fold is an object");
  ASSIGN_OR_RETURN(ResultFold fold, Create(json.value("reduce", nlohmann::json())));
  const nlohmann::json values = json.value("values", nlohmann::json::object());
  if (!values.is_object()) return Status::InvalidArgument("a result fold's values are an object");
  for (const auto& [member, v] : values.items()) {
    if (!v.is_number()) {
      return Status::InvalidArgument("a result fold's value \"" + member + "\" is not a number");
    }
  }
  fold.values_ = values;
  return fold;
}

}  // namespace batchd::pipeline
