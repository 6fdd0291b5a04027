#include "tests/support/prometheus_exposition.h"

#include <cmath>
#include <regex>
#include <set>

namespace batchd::testing {
namespace {

const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
const std::regex kNumber(R"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)");
const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};

Status Bad(size_t line, const std::string& why) {
  return Status::Malformed("line " + std::to_string(line) + ": " + why);
}

Result<double> ParseNumber(const std::string& text) {
  if (!std::regex_match(text, kNumber)) return Status::Malformed("not a number: '" + text + "'");
  if (text == "NaN") return std::nan("");
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  return std::stod(text);
}

// `{name="value",...}` starting at text[0] == '{'; sets *end past the '}'.
Result<PromLabels> ParseLabels(std::string_view text, size_t* end) {
  PromLabels labels;
  size_t i = 1;
  while (true) {
    if (i >= text.size()) return Status::Malformed("unterminated label set");
    if (text[i] == '}') break;
    const size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return Status::Malformed("label without '='");
    const std::string name(text.substr(i, eq - i));
    if (!std::regex_match(name, kLabelName)) {
      return Status::Malformed("bad label name '" + name + "'");
    }
    if (eq + 1 >= text.size() || text[eq + 1] != '"') {
      return Status::Malformed("label value of '" + name + "' is not quoted");
    }
    std::string value;
    size_t j = eq + 2;
    for (;; ++j) {
      if (j >= text.size()) return Status::Malformed("unterminated label value");
      const char c = text[j];
      if (c == '"') break;
      if (c == '\n') return Status::Malformed("raw newline in a label value");
      if (c == '\\') {
        if (j + 1 >= text.size()) return Status::Malformed("dangling backslash");
        const char e = text[++j];
        if (e == '\\' || e == '"') {
          value += e;
        } else if (e == 'n') {
          value += '\n';
        } else {
          return Status::Malformed(std::string("bad escape \\") + e + " in a label value");
        }
      } else {
        value += c;
      }
    }
    if (!labels.emplace(name, value).second) {
      return Status::Malformed("label '" + name + "' twice in one sample");
    }
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  *end = i + 1;
  return labels;
}

std::string SeriesKey(const std::string& name, const PromLabels& labels) {
  std::string key = name + "{";
  for (const auto& [k, v] : labels) key += k + "=" + v + "\x1f";
  return key + "}";
}

// The histogram checks for one family: per label set (without le), buckets in increasing le,
// cumulative, ending in +Inf equal to _count, and a _sum.
Status CheckHistogram(const PromFamily& f) {
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, value) in order of appearance
    std::optional<double> sum, count;
  };
  std::map<std::string, Series> series;
  for (const PromSample& s : f.samples) {
    PromLabels rest = s.labels;
    rest.erase("le");
    Series& h = series[SeriesKey("", rest)];
    if (s.name == f.name + "_bucket") {
      auto le = s.labels.find("le");
      if (le == s.labels.end()) return Status::Malformed(f.name + ": a bucket without le");
      ASSIGN_OR_RETURN(double bound, ParseNumber(le->second));
      h.buckets.emplace_back(bound, s.value);
    } else if (s.name == f.name + "_sum") {
      h.sum = s.value;
    } else if (s.name == f.name + "_count") {
      h.count = s.value;
    }
  }
  for (const auto& [key, h] : series) {
    const std::string where = f.name + key;
    if (h.buckets.empty()) return Status::Malformed(where + ": no buckets");
    if (!h.sum || !h.count) return Status::Malformed(where + ": _sum or _count missing");
    for (size_t i = 1; i < h.buckets.size(); ++i) {
      if (!(h.buckets[i].first > h.buckets[i - 1].first)) {
        return Status::Malformed(where + ": le not increasing");
      }
      if (h.buckets[i].second < h.buckets[i - 1].second) {
        return Status::Malformed(where + ": buckets not cumulative");
      }
    }
    if (!std::isinf(h.buckets.back().first)) return Status::Malformed(where + ": no +Inf bucket");
    if (h.buckets.back().second != *h.count) {
      return Status::Malformed(where + ": +Inf bucket differs from _count");
    }
  }
  return Status::Ok();
}

}  // namespace

const PromFamily* PromExposition::Find(std::string_view family) const {
  for (const PromFamily& f : families) {
    if (f.name == family) return &f;
  }
  return nullptr;
}

std::optional<double> PromExposition::Value(std::string_view name, const PromLabels& labels) const {
  for (const PromFamily& f : families) {
    for (const PromSample& s : f.samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
  }
  return std::nullopt;
}

double PromExposition::ValueOr0(std::string_view name, const PromLabels& labels) const {
  return Value(name, labels).value_or(0);
}

Result<PromExposition> ParsePromExposition(std::string_view text) {
  if (text.empty() || text.back() != '\n') return Status::Malformed("does not end in a newline");
  PromExposition out;
  std::set<std::string> families_seen;
  std::set<std::string> series_seen;
  PromFamily* current = nullptr;
  bool current_has_type = false;
  size_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const std::string line(text.substr(start, nl - start));
    start = nl + 1;
    ++number;
    if (line.empty()) return Bad(number, "empty line");
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex kHelp(R"(# HELP (\S+) (.*))");
      static const std::regex kType(R"(# TYPE (\S+) (\S+))");
      if (std::regex_match(line, m, kHelp)) {
        const std::string name = m[1];
        if (!std::regex_match(name, kMetricName)) return Bad(number, "bad family name " + name);
        if (!families_seen.insert(name).second) return Bad(number, "family " + name + " twice");
        out.families.push_back({.name = name, .help = m[2]});
        current = &out.families.back();
        current_has_type = false;
      } else if (std::regex_match(line, m, kType)) {
        if (current == nullptr || current->name != m[1] || current_has_type) {
          return Bad(number, "TYPE not right after its family's HELP");
        }
        if (!kTypes.count(m[2])) return Bad(number, "unknown type " + std::string(m[2]));
        current->type = m[2];
        current_has_type = true;
        if (current->type == "counter" && !current->name.ends_with("_total")) {
          return Bad(number, "counter " + current->name + " is not named *_total");
        }
      } else if (line.starts_with("# HELP") || line.starts_with("# TYPE")) {
        return Bad(number, "malformed HELP or TYPE");
      }
      continue;  // other comments are allowed by the format
    }
    // A sample: name, optional labels, one space, value, optional timestamp.
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    PromSample sample;
    sample.name = line.substr(0, i);
    if (!std::regex_match(sample.name, kMetricName)) {
      return Bad(number, "bad metric name '" + sample.name + "'");
    }
    if (i < line.size() && line[i] == '{') {
      size_t end = 0;
      Result<PromLabels> labels = ParseLabels(std::string_view(line).substr(i), &end);
      if (!labels.ok()) return Bad(number, labels.status().message());
      sample.labels = std::move(*labels);
      i += end;
    }
    if (i >= line.size() || line[i] != ' ') return Bad(number, "no space before the value");
    const std::string rest = line.substr(i + 1);
    const size_t space = rest.find(' ');
    Result<double> value = ParseNumber(rest.substr(0, space));
    if (!value.ok()) return Bad(number, value.status().message());
    if (space != std::string::npos &&
        !std::regex_match(rest.substr(space + 1), std::regex("-?\\d+"))) {
      return Bad(number, "bad timestamp");
    }
    sample.value = *value;
    if (current == nullptr || !current_has_type) {
      return Bad(number, "sample " + sample.name + " before any HELP and TYPE");
    }
    const std::string& f = current->name;
    const bool belongs = current->type == "histogram"
                             ? (sample.name == f + "_bucket" || sample.name == f + "_sum" ||
                                sample.name == f + "_count")
                             : sample.name == f;
    if (!belongs) return Bad(number, "sample " + sample.name + " is not of family " + f);
    if (current->type == "counter" && !(sample.value >= 0)) {
      return Bad(number, "counter " + sample.name + " is negative or NaN");
    }
    if (!series_seen.insert(SeriesKey(sample.name, sample.labels)).second) {
      return Bad(number, "duplicate series " + sample.name);
    }
    current->samples.push_back(std::move(sample));
  }
  for (const PromFamily& f : out.families) {
    if (f.type.empty()) return Status::Malformed("family " + f.name + " has no TYPE");
    if (f.type == "histogram") RETURN_IF_ERROR(CheckHistogram(f));
  }
  return out;
}

}  // namespace batchd::testing
