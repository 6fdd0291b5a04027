#include "core/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace batchd {
namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Label values escape backslash, double quote and line feed; help texts only backslash and
// line feed (a quote in a help text is literal).
void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // `general` keeps small bucket bounds readable ("0.0001", not "1e-04") and is still the
  // shortest spelling that reads back as the same double.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
  return std::string(buf, ec == std::errc() ? end : buf);
}

void PrometheusText::Family(std::string_view name, MetricType type, std::string_view help) {
  family_ = name;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendEscaped(out_, help, /*quotes=*/false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += TypeName(type);
  out_ += '\n';
}

void PrometheusText::Labels(MetricLabels labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const MetricLabel& l : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.name;
    out_ += "=\"";
    AppendEscaped(out_, l.value, /*quotes=*/true);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void PrometheusText::SampleLine(std::string_view suffix, MetricLabels labels, std::string_view le,
                                std::string_view value) {
  out_ += family_;
  out_ += suffix;
  Labels(labels, le);
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void PrometheusText::Sample(MetricLabels labels, int64_t value) {
  SampleLine({}, labels, {}, std::to_string(value));
}

void PrometheusText::Sample(MetricLabels labels, double value) {
  SampleLine({}, labels, {}, FormatMetricValue(value));
}

void PrometheusText::Histogram(MetricLabels labels, const LatencyHistogram::Snapshot& h) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const std::string le = i < h.bounds_s.size() ? FormatMetricValue(h.bounds_s[i]) : "+Inf";
    SampleLine("_bucket", labels, le, std::to_string(cumulative));
  }
  SampleLine("_sum", labels, {}, FormatMetricValue(h.sum_s));
  SampleLine("_count", labels, {}, std::to_string(h.count));
}

}  // namespace batchd
