// ExactSum: the sum of doubles that does not depend on the order they are added in.
#include "pipeline/ops/exact_sum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace batchd::pipeline {
namespace {

TEST(ExactSumTest, EmptyIsZero) {
  ExactSum s;
  EXPECT_EQ(s.Value(), 0.0);
  EXPECT_EQ(s.Serialize(), "");
}

TEST(ExactSumTest, SmallIntegersAreExact) {
  ExactSum s;
  for (int i = 1; i <= 1000; ++i) s.Add(i);
  EXPECT_EQ(s.Value(), 500500.0);
}

TEST(ExactSumTest, KeepsWhatADoubleSumLoses) {
  // 1e16 + 1 - 1e16 is 0 in double arithmetic (1 is below the last bit of 1e16); exactly, 1.
  ExactSum s;
  s.Add(1e16);
  s.Add(1.0);
  s.Add(-1e16);
  EXPECT_EQ(s.Value(), 1.0);
  double naive = 1e16;
  naive += 1.0;
  naive -= 1e16;
  EXPECT_NE(naive, 1.0);  // shows the test would catch a plain double accumulator
}

TEST(ExactSumTest, NegativeSums) {
  ExactSum s;
  s.Add(-2.5);
  s.Add(1.0);
  EXPECT_EQ(s.Value(), -1.5);
  s.Add(-1e300);
  EXPECT_EQ(s.Value(), -1e300);
}

TEST(ExactSumTest, ExtremesOfTheDoubleRange) {
  ExactSum s;
  const double tiny = std::numeric_limits<double>::denorm_min();
  const double huge = std::numeric_limits<double>::max();
  s.Add(tiny);
  EXPECT_EQ(s.Value(), tiny);
  s.Add(huge);
  EXPECT_EQ(s.Value(), huge);
  s.Add(-huge);
  EXPECT_EQ(s.Value(), tiny);
}

TEST(ExactSumTest, NonFiniteInputsAreIgnored) {
  ExactSum s;
  s.Add(2.0);
  s.Add(std::numeric_limits<double>::quiet_NaN());
  s.Add(std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.Value(), 2.0);
}

TEST(ExactSumTest, OrderDoesNotMatter) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1e6);
  std::vector<double> values(20000);
  for (double& v : values) v = normal(rng) * std::pow(10.0, static_cast<int>(rng() % 20) - 10);
  ExactSum forward;
  for (double v : values) forward.Add(v);
  std::shuffle(values.begin(), values.end(), rng);
  ExactSum shuffled;
  for (double v : values) shuffled.Add(v);
  EXPECT_EQ(forward, shuffled);
  EXPECT_EQ(forward.Value(), shuffled.Value());
}

TEST(ExactSumTest, MergingPartsEqualsAddingAll) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1e3, 1e3);
  ExactSum all, a, b;
  for (int i = 0; i < 5000; ++i) {
    const double v = u(rng);
    all.Add(v);
    (i % 3 == 0 ? a : b).Add(v);
  }
  a.Add(b);
  EXPECT_EQ(a, all);
}

TEST(ExactSumTest, ManyAddsCrossTheNormalizationThreshold) {
  // More than 2^20 adds forces the carry propagation in the middle of the run.
  ExactSum s;
  for (int i = 0; i < 3'000'000; ++i) s.Add(0.1);
  long double reference = 0;
  for (int i = 0; i < 3'000'000; ++i) reference += 0.1L;
  EXPECT_NEAR(s.Value(), static_cast<double>(reference), 1e-6);
  // The exact value of 3e6 copies of the double 0.1 is 3e6 * 0.1000000000000000055511151231257827.
  EXPECT_DOUBLE_EQ(s.Value(), 300000.0000000000166533453693773481);
}

TEST(ExactSumTest, SerializeRoundTrips) {
  ExactSum s;
  s.Add(3.14159);
  s.Add(-1e-300);
  s.Add(12345678901234.5);
  Result<ExactSum> back = ExactSum::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->Value(), s.Value());
}

TEST(ExactSumTest, ParseRefusesGarbage) {
  EXPECT_FALSE(ExactSum::Parse("abc").ok());
  EXPECT_FALSE(ExactSum::Parse("1:").ok());
  EXPECT_FALSE(ExactSum::Parse("99:1").ok());  // no such limb
  EXPECT_FALSE(ExactSum::Parse("-1:5").ok());
  EXPECT_TRUE(ExactSum::Parse("").ok());
}

}  // namespace
}  // namespace batchd::pipeline
