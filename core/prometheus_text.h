// Writes the Prometheus text exposition format (version 0.0.4): for each metric family a
// `# HELP` and a `# TYPE` line, then its samples, `name{label="value",...} number`. The whole
// format batchd needs is counters, gauges and histograms without timestamps; docs/metrics.md
// says why this small writer instead of prometheus-cpp.
//
// Usage: Family(...) once per family, then its Sample()s or Histogram()s; families must not be
// repeated (the format requires each family's samples to be contiguous). Names are not
// escaped, so they must be valid metric and label names; label values and help texts are
// escaped here.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/latency_histogram.h"

namespace batchd {

struct MetricLabel {
  std::string_view name;
  std::string_view value;
};
using MetricLabels = std::initializer_list<MetricLabel>;

enum class MetricType { kCounter, kGauge, kHistogram };

class PrometheusText {
 public:
  // Starts a family. For counters `name` ends in `_total`; for histograms it is the base name
  // (the samples are name_bucket, name_sum and name_count).
  void Family(std::string_view name, MetricType type, std::string_view help);

  // A counter's or gauge's sample of the current family.
  void Sample(MetricLabels labels, int64_t value);
  void Sample(MetricLabels labels, double value);
  void Sample(int64_t value) { Sample({}, value); }
  void Sample(double value) { Sample({}, value); }

  // A histogram's samples of the current family: its cumulative buckets (le="..."), sum and
  // count.
  void Histogram(MetricLabels labels, const LatencyHistogram::Snapshot& histogram);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Labels(MetricLabels labels, std::string_view le = {});
  void SampleLine(std::string_view suffix, MetricLabels labels, std::string_view le,
                  std::string_view value);

  std::string out_;
  std::string family_;
};

// The format's spelling of a number: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);

// The Content-Type of the format.
inline constexpr const char* kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace batchd
