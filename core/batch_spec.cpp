// Parsing and validation of the v1 batch document; the rules are listed in batch_spec.h and
// docs/api.md. Every check names the JSON Pointer of the member it rejects, so a client can
// point at the exact spot in what it sent.
#include "core/batch_spec.h"

#include "core/strict_json.h"

#include <cstddef>
#include <initializer_list>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "core/batch_expansion.h"

namespace batchd {
namespace {

using nlohmann::json;

// The pointer to member `key` of the value at `path`; escapes '~' and '/' as RFC 6901 says.
std::string ChildPath(const std::string& path, const std::string& key) {
  return (json::json_pointer(path) / key).to_string();
}
std::string ChildPath(const std::string& path, size_t index) {
  return path + "/" + std::to_string(index);
}

// nlohmann's what() starts with "[json.exception.parse_error.101] "; clients do not need that.
std::string WithoutExceptionId(const json::exception& e) {
  std::string what = e.what();
  size_t end = what.find("] ");
  return end == std::string::npos ? what : what.substr(end + 2);
}

// nlohmann's parse errors quote the bytes the parser stopped at, which need not be UTF-8. The
// message goes back to the client inside a JSON body, where such bytes cannot be written: they
// become U+FFFD (dumping with `replace` and reading the result back).
std::string ValidUtf8(const std::string& text) {
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

// How a rejected value is quoted in messages: scalars verbatim (shortened), containers by kind.
std::string Describe(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_discarded()) return "nothing";
  // replace: a hand-built json may hold invalid UTF-8, and dump() would throw on it.
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t kMaxQuoted = 60;
  if (text.size() > kMaxQuoted) {
    // Cut at a UTF-8 character boundary: the message goes back out inside a JSON error body,
    // and half a character there would make dumping it throw.
    size_t cut = kMaxQuoted;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// The value of an integer JSON number that fits int64. 1.0, "1", true and numbers past
// int64 are refused: a batch is an exact document, and silently rounding it would hide typos.
std::optional<int64_t> ExactInt64(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

Status ReadInt(const json& doc, const char* key, std::optional<int64_t> min, int64_t* out) {
  auto it = doc.find(key);
  if (it == doc.end()) return Status::Ok();  // keep the default
  std::optional<int64_t> value = ExactInt64(*it);
  if (value && (!min || *value >= *min)) {
    *out = *value;
    return Status::Ok();
  }
  std::string want = min ? "an integer >= " + std::to_string(*min)
                         : std::string(
                               "an integer between -9223372036854775808 and "
                               "9223372036854775807");
  return Status::InvalidArgument(std::string(key) + " must be " + want + ", got " + Describe(*it),
                                 ChildPath("", key));
}

Status ReadMaxRunning(const json& doc, std::optional<int64_t>* out) {
  auto it = doc.find("max_running");
  if (it == doc.end() || it->is_null()) return Status::Ok();  // no per-batch limit
  std::optional<int64_t> value = ExactInt64(*it);
  if (!value || *value < 1) {
    return Status::InvalidArgument(
        "max_running must be null or an integer >= 1, got " + Describe(*it), "/max_running");
  }
  *out = *value;
  return Status::Ok();
}

Status CheckNoUnknownMembers(const json& object, const std::string& path,
                             std::initializer_list<std::string_view> allowed,
                             const char* allowed_text, const char* where) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      return Status::InvalidArgument("unknown member " + Describe(json(key)) + " in " + where +
                                         " (allowed: " + allowed_text + ")",
                                     ChildPath(path, key));
    }
  }
  return Status::Ok();
}

// Remembers the fields already used, sorted, so that equal and nested fields are found in
// O(log n) each: comparing all pairs would be quadratic in a body of many thousand datums.
class UsedFields {
 public:
  // `field` is a valid, non-empty pointer; `path` is where it sits in the document.
  Status Add(const std::string& field, const std::string& path) {
    if (auto it = used_.find(field); it != used_.end()) {
      return Status::InvalidArgument("field \"" + field + "\" is already used at " + it->second +
                                         "; a field may be used only once",
                                     path);
    }
    // Escaped pointers use '/' only between tokens, so an ancestor is a prefix ending at a '/'.
    for (size_t slash = field.rfind('/'); slash != 0 && slash != std::string::npos;
         slash = field.rfind('/', slash - 1)) {
      if (auto it = used_.find(field.substr(0, slash)); it != used_.end()) {
        return Status::InvalidArgument("field \"" + field + "\" is inside \"" + it->first +
                                           "\", already used at " + it->second,
                                       path);
      }
    }
    // Descendants of `field` all start with field + "/", so they sort together from there.
    const std::string below = field + "/";
    if (auto it = used_.lower_bound(below);
        it != used_.end() && it->first.compare(0, below.size(), below) == 0) {
      return Status::InvalidArgument(
          "field \"" + field + "\" contains \"" + it->first + "\", already used at " + it->second,
          path);
    }
    used_.emplace(field, path);
    return Status::Ok();
  }

 private:
  std::map<std::string, std::string> used_;  // field -> path of the datum member that used it
};

Status ReadField(const json& datum, const std::string& path, const json& job_template,
                 UsedFields* used, std::string* out) {
  auto it = datum.find("field");
  if (it == datum.end()) return Status::InvalidArgument("field is required in a datum", path);
  if (!it->is_string()) {
    return Status::InvalidArgument("field must be a JSON Pointer string, got " + Describe(*it),
                                   path);
  }
  const std::string& field = it->get_ref<const std::string&>();
  if (field.empty()) {
    return Status::InvalidArgument(
        "field must point inside template; \"\" would replace the whole template", path);
  }
  bool exists = false;
  try {
    exists = job_template.contains(json::json_pointer(field));
  } catch (const json::parse_error&) {
    return Status::InvalidArgument("field " + Describe(*it) +
                                       " is not a JSON Pointer: it must start with '/', and '~' "
                                       "may only appear as ~0 (for ~) or ~1 (for /)",
                                   path);
  } catch (const json::exception&) {
    // contains() throws on an array index too large for size_t: such an element cannot exist.
  }
  if (!exists) {
    return Status::InvalidArgument("field " + Describe(*it) + " does not exist in template", path);
  }
  RETURN_IF_ERROR(used->Add(field, path));
  *out = field;
  return Status::Ok();
}

Status ReadItems(const json& datum, const std::string& path, json* out) {
  auto it = datum.find("items");
  if (it == datum.end()) return Status::InvalidArgument("items is required in a datum", path);
  if (!it->is_array()) {
    return Status::InvalidArgument("items must be an array, got " + Describe(*it), path);
  }
  if (it->empty()) return Status::InvalidArgument("items must not be empty", path);
  *out = *it;
  return Status::Ok();
}

Status ReadGroup(const json& group, const std::string& path, const json& job_template,
                 UsedFields* used, DataGroup* out) {
  if (!group.is_array()) {
    return Status::InvalidArgument(
        "a data group must be an array of datums, got " + Describe(group), path);
  }
  if (group.empty()) return Status::InvalidArgument("a data group must not be empty", path);
  for (size_t d = 0; d < group.size(); ++d) {
    const json& datum = group[d];
    const std::string datum_path = ChildPath(path, d);
    if (!datum.is_object()) {
      return Status::InvalidArgument(
          "a datum must be an object {\"field\", \"items\"}, got " + Describe(datum), datum_path);
    }
    RETURN_IF_ERROR(
        CheckNoUnknownMembers(datum, datum_path, {"field", "items"}, "field, items", "a datum"));
    Datum parsed;
    RETURN_IF_ERROR(ReadField(datum, datum_path + "/field", job_template, used, &parsed.field));
    RETURN_IF_ERROR(ReadItems(datum, datum_path + "/items", &parsed.items));
    if (d > 0 && parsed.items.size() != out->front().items.size()) {
      // Zipped datums need one item per session each; a shorter list has no value to give.
      return Status::InvalidArgument(
          "items has length " + std::to_string(parsed.items.size()) +
              " but the first datum of this group (" + ChildPath(path, 0) + ") has length " +
              std::to_string(out->front().items.size()) +
              "; datums of a group are zipped, so their counts must match",
          datum_path + "/items");
    }
    out->push_back(std::move(parsed));
  }
  return Status::Ok();
}

Status ReadData(const json& doc, const json& job_template, std::vector<DataGroup>* out) {
  auto it = doc.find("data");
  if (it == doc.end()) return Status::Ok();
  if (!it->is_array()) {
    return Status::InvalidArgument("data must be an array of groups, got " + Describe(*it),
                                   "/data");
  }
  UsedFields used;
  for (size_t g = 0; g < it->size(); ++g) {
    DataGroup group;
    RETURN_IF_ERROR(ReadGroup((*it)[g], ChildPath("/data", g), job_template, &used, &group));
    out->push_back(std::move(group));
  }
  return Status::Ok();
}

// The session count must fit in 64 bits (ordinals are uint64) and stay within the limit.
Status CheckSessionCount(const BatchSpec& spec, const BatchSpecLimits& limits) {
  const BatchShape shape = BatchShape::Of(spec);
  uint64_t per_run = 1;
  for (size_t g = 0; g < shape.group_lengths.size(); ++g) {
    if (__builtin_mul_overflow(per_run, shape.group_lengths[g], &per_run)) {
      return Status::InvalidArgument(
          "the data groups up to this one expand to 2^64 or more sessions, too many to number",
          ChildPath("/data", g));
    }
  }
  uint64_t total = 0;
  if (__builtin_mul_overflow(per_run, shape.runs, &total)) {
    return Status::InvalidArgument(
        "the batch expands to 2^64 or more sessions, too many to number (" +
            std::to_string(per_run) + " per run x " + std::to_string(shape.runs) + " runs)",
        "/runs");
  }
  if (total > limits.max_sessions) {
    return Status::LimitExceeded(
        "the batch expands to " + std::to_string(total) + " sessions (" + std::to_string(per_run) +
            " per run x " + std::to_string(shape.runs) + " runs), more than the limit of " +
            std::to_string(limits.max_sessions),
        per_run > limits.max_sessions ? "/data" : "/runs");
  }
  return Status::Ok();
}

Result<BatchSpec> ValidateDocument(const json& doc, const BatchSpecLimits& limits) {
  if (!doc.is_object()) {
    return Status::InvalidArgument("a batch must be a JSON object, got " + Describe(doc), "");
  }
  RETURN_IF_ERROR(CheckNoUnknownMembers(
      doc, "", {"name", "priority", "runs", "max_running", "max_attempts", "template", "data"},
      "name, priority, runs, max_running, max_attempts, template, data", "a batch"));
  BatchSpec spec;
  if (auto it = doc.find("name"); it != doc.end()) {
    if (!it->is_string()) {
      return Status::InvalidArgument("name must be a string, got " + Describe(*it), "/name");
    }
    const std::string& name = it->get_ref<const std::string&>();
    if (name.size() > limits.max_name_bytes) {
      return Status::InvalidArgument(
          "name is " + std::to_string(name.size()) + " bytes long; at most " +
              std::to_string(limits.max_name_bytes) + " bytes (of UTF-8) are allowed",
          "/name");
    }
    spec.name = name;
  }
  RETURN_IF_ERROR(ReadInt(doc, "priority", std::nullopt, &spec.priority));
  RETURN_IF_ERROR(ReadInt(doc, "runs", 1, &spec.runs));
  RETURN_IF_ERROR(ReadMaxRunning(doc, &spec.max_running));
  RETURN_IF_ERROR(ReadInt(doc, "max_attempts", 1, &spec.max_attempts));
  auto tmpl = doc.find("template");
  if (tmpl == doc.end()) return Status::InvalidArgument("template is required", "/template");
  if (!tmpl->is_object()) {
    return Status::InvalidArgument("template must be an object, got " + Describe(*tmpl),
                                   "/template");
  }
  spec.job_template = *tmpl;
  RETURN_IF_ERROR(ReadData(doc, spec.job_template, &spec.data));
  RETURN_IF_ERROR(CheckSessionCount(spec, limits));
  return spec;
}

// Finds the first byte where brackets nest deeper than `max_depth`, outside strings. Runs
// before the real parser, which itself overflows the stack on deep enough input.
std::optional<size_t> FirstTooDeepByte(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;  // unbalanced input is left for the parser to report
    }
  }
  return std::nullopt;
}

}  // namespace

Result<BatchSpec> ParseBatchSpec(std::string_view json_text, const BatchSpecLimits& limits) {
  if (auto byte = FirstTooDeepByte(json_text, limits.max_nesting_depth)) {
    return Status::Malformed("JSON nested deeper than " + std::to_string(limits.max_nesting_depth) +
                             " levels at byte " + std::to_string(*byte + 1));
  }
  json doc;
  try {
    if (std::optional<DuplicateMember> dup = ParseRejectingDuplicates(json_text, doc)) {
      return Status::Malformed(
          "duplicate member \"" + ValidUtf8(dup->name) + "\": an object may name each member once",
          ValidUtf8(dup->pointer));
    }
  } catch (const json::parse_error& e) {
    // The message carries nlohmann's "at line L, column C" position.
    return Status::Malformed("not valid JSON: " + ValidUtf8(WithoutExceptionId(e)));
  } catch (const json::exception& e) {
    // A number too large even for a double ("1e999"): nlohmann names the token, not where.
    return Status::Malformed("not valid JSON: " + ValidUtf8(WithoutExceptionId(e)));
  }
  return BatchSpecFromJson(doc, limits);
}

Result<BatchSpec> BatchSpecFromJson(const nlohmann::json& doc, const BatchSpecLimits& limits) {
  try {
    return ValidateDocument(doc, limits);
  } catch (const json::exception& e) {
    // Every access above is type-checked first; reaching here is a bug, not bad input.
    return Status::Internal("unexpected JSON error while validating a batch: " +
                            WithoutExceptionId(e));
  }
}

nlohmann::json BatchSpecToJson(const BatchSpec& spec) {
  json data = json::array();
  for (const DataGroup& group : spec.data) {
    json datums = json::array();
    for (const Datum& datum : group) {
      datums.push_back({{"field", datum.field}, {"items", datum.items}});
    }
    data.push_back(std::move(datums));
  }
  return {
      {"name", spec.name},
      {"priority", spec.priority},
      {"runs", spec.runs},
      {"max_running", spec.max_running ? json(*spec.max_running) : json(nullptr)},
      {"max_attempts", spec.max_attempts},
      {"template", spec.job_template},
      {"data", std::move(data)},
  };
}

}  // namespace batchd
