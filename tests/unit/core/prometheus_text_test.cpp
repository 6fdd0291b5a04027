// The Prometheus text writer: the exact lines it writes for each metric type, escaping, and
// number spelling. (The daemon's whole /metrics output is checked against the format by
// tests/integration/metrics_test.cpp.)
#include "core/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace batchd {
namespace {

TEST(PrometheusTextTest, ACounterFamilyHasHelpTypeAndItsSamples) {
  PrometheusText w;
  w.Family("batchd_sessions_claimed_total", MetricType::kCounter, "Sessions claimed.");
  w.Sample(int64_t{42});
  EXPECT_EQ(w.text(),
            "# HELP batchd_sessions_claimed_total Sessions claimed.\n"
            "# TYPE batchd_sessions_claimed_total counter\n"
            "batchd_sessions_claimed_total 42\n");
}

TEST(PrometheusTextTest, GaugeSamplesCarryTheirLabelsInOrder) {
  PrometheusText w;
  w.Family("batchd_sessions", MetricType::kGauge, "Sessions by state.");
  w.Sample({{"state", "completed"}}, int64_t{7});
  w.Sample({{"state", "error"}, {"x", "y"}}, 0.5);
  EXPECT_EQ(w.text(),
            "# HELP batchd_sessions Sessions by state.\n"
            "# TYPE batchd_sessions gauge\n"
            "batchd_sessions{state=\"completed\"} 7\n"
            "batchd_sessions{state=\"error\",x=\"y\"} 0.5\n");
}

TEST(PrometheusTextTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  PrometheusText w;
  w.Family("m", MetricType::kGauge, "h");
  w.Sample({{"l", "a\\b\"c\nd"}}, int64_t{1});
  EXPECT_NE(w.text().find("m{l=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos) << w.text();
}

TEST(PrometheusTextTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  PrometheusText w;
  w.Family("m", MetricType::kGauge, "a \"quoted\" \\ help\nsecond line");
  EXPECT_EQ(w.text().substr(0, w.text().find('\n') + 1),
            "# HELP m a \"quoted\" \\\\ help\\nsecond line\n");
}

TEST(PrometheusTextTest, AHistogramWritesCumulativeBucketsEndingInInfThenSumAndCount) {
  const double bounds[] = {0.001, 0.01};
  LatencyHistogram h(bounds);
  h.Observe(std::chrono::microseconds(200));
  h.Observe(std::chrono::milliseconds(5));
  h.Observe(std::chrono::milliseconds(6));
  h.Observe(std::chrono::seconds(1));
  PrometheusText w;
  w.Family("batchd_http_request_duration_seconds", MetricType::kHistogram, "Latency.");
  w.Histogram({{"route", "GET /healthz"}}, h.Read());
  EXPECT_EQ(w.text(),
            "# HELP batchd_http_request_duration_seconds Latency.\n"
            "# TYPE batchd_http_request_duration_seconds histogram\n"
            "batchd_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.001\"} 1\n"
            "batchd_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.01\"} 3\n"
            "batchd_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"+Inf\"} 4\n"
            "batchd_http_request_duration_seconds_sum{route=\"GET /healthz\"} 1.0112\n"
            "batchd_http_request_duration_seconds_count{route=\"GET /healthz\"} 4\n");
}

TEST(PrometheusTextTest, AnUnlabelledHistogramHasOnlyTheLeLabel) {
  const double bounds[] = {1};
  LatencyHistogram h(bounds);
  PrometheusText w;
  w.Family("x_seconds", MetricType::kHistogram, "h");
  w.Histogram({}, h.Read());
  EXPECT_NE(w.text().find("x_seconds_bucket{le=\"1\"} 0\nx_seconds_bucket{le=\"+Inf\"} 0\n"
                          "x_seconds_sum 0\nx_seconds_count 0\n"),
            std::string::npos)
      << w.text();
}

TEST(PrometheusTextTest, NumbersAreSpelledAsTheFormatWants) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(0.0001), "0.0001");
  EXPECT_EQ(FormatMetricValue(0.00025), "0.00025");
  EXPECT_EQ(FormatMetricValue(2.5), "2.5");
  EXPECT_EQ(FormatMetricValue(10), "10");
  EXPECT_EQ(FormatMetricValue(-3.25), "-3.25");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  // Round trip: what is written reads back as the same double.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::stod(FormatMetricValue(third)), third);
  EXPECT_EQ(std::stod(FormatMetricValue(1e300)), 1e300);
}

TEST(PrometheusTextTest, TakeHandsOverTheText) {
  PrometheusText w;
  w.Family("m", MetricType::kCounter, "h");
  w.Sample(int64_t{1});
  const std::string text = w.Take();
  EXPECT_TRUE(text.ends_with("m 1\n"));
}

}  // namespace
}  // namespace batchd
