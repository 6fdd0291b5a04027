// A strict reader of the Prometheus text exposition format (0.0.4), written from the format's
// rules and independent of core/prometheus_text.h, for tests of GET /metrics: it parses every
// line and refuses anything a Prometheus server would refuse, plus what batchd promises on top
// (HELP and TYPE for every family, counters named *_total, histogram buckets cumulative).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchd::testing {

using PromLabels = std::map<std::string, std::string>;

struct PromSample {
  std::string name;  // with its suffix (_bucket, _sum, _count) for histograms
  PromLabels labels;
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;
  std::vector<PromSample> samples;
};

struct PromExposition {
  std::vector<PromFamily> families;

  const PromFamily* Find(std::string_view family) const;
  // The value of the sample `name` with exactly `labels`; nullopt if there is none.
  std::optional<double> Value(std::string_view name, const PromLabels& labels = {}) const;
  // Like Value, but 0 for a missing sample (counters that have not moved are not written).
  double ValueOr0(std::string_view name, const PromLabels& labels = {}) const;
};

// Parses `text`. kMalformed naming the line number and the rule broken: a line that is not a
// comment or a sample; a sample before its family's HELP and TYPE, or of another family; a
// family seen twice; a duplicate series; a counter not named *_total or negative; a histogram
// whose buckets are not cumulative in increasing `le`, lack +Inf, or disagree with _count, or
// that lacks _sum or _count; text not ending in a newline.
Result<PromExposition> ParsePromExposition(std::string_view text);

}  // namespace batchd::testing
