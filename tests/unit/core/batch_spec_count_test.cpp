// Session counting at the gate: a batch whose count overflows 64 bits is invalid (ordinals are
// uint64), and one within 64 bits but past limits.max_sessions is refused as too large.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/batch_spec.h"

namespace batchd {
namespace {

using nlohmann::json;

// A batch with one single-datum group per entry of `lengths`, each group over its own field.
json BatchWithGroups(const std::vector<size_t>& lengths, uint64_t runs) {
  json doc = {{"template", json::object()}, {"data", json::array()}, {"runs", runs}};
  for (size_t g = 0; g < lengths.size(); ++g) {
    std::string key = "f";
    key += std::to_string(g);  // not "f" + to_string(g): GCC 12 warns falsely (-Wrestrict)
    doc["template"][key] = nullptr;
    json items = json::array();
    for (size_t i = 0; i < lengths[g]; ++i) items.push_back(i);
    doc["data"].push_back(json::array({{{"field", "/" + key}, {"items", items}}}));
  }
  return doc;
}

Result<BatchSpec> Parse(const json& doc, uint64_t max_sessions = UINT64_MAX) {
  BatchSpecLimits limits;
  limits.max_sessions = max_sessions;
  return ParseBatchSpec(doc.dump(), limits);
}

TEST(BatchSpecCountTest, NoGroupsMeansRunsSessionsAndAllFitTheLimit) {
  EXPECT_TRUE(Parse(BatchWithGroups({}, 5), 5).ok());
  Result<BatchSpec> spec = Parse(BatchWithGroups({}, 6), 5);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(spec.status().path(), "/runs");
}

TEST(BatchSpecCountTest, ExactlyAtTheLimitIsAccepted) {
  // 2 * 3 * 4 = 24 per run, 2 runs: 48.
  EXPECT_TRUE(Parse(BatchWithGroups({2, 3, 4}, 2), 48).ok());
}

TEST(BatchSpecCountTest, OverTheLimitByRunsBlamesRuns) {
  Result<BatchSpec> spec = Parse(BatchWithGroups({2, 3, 4}, 2), 47);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(spec.status().path(), "/runs");
  EXPECT_NE(spec.status().message().find("48 sessions"), std::string::npos)
      << spec.status().message();
  EXPECT_NE(spec.status().message().find("limit of 47"), std::string::npos)
      << spec.status().message();
}

TEST(BatchSpecCountTest, OverTheLimitWithoutRunsBlamesData) {
  Result<BatchSpec> spec = Parse(BatchWithGroups({2, 3, 4}, 1), 23);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(spec.status().path(), "/data");
  EXPECT_NE(spec.status().message().find("24 sessions"), std::string::npos)
      << spec.status().message();
  EXPECT_NE(spec.status().message().find("limit of 23"), std::string::npos)
      << spec.status().message();
}

TEST(BatchSpecCountTest, DefaultLimitIsTenMillion) {
  EXPECT_EQ(BatchSpecLimits{}.max_sessions, 10'000'000u);
  json doc = BatchWithGroups({10}, 1'000'000);
  EXPECT_TRUE(ParseBatchSpec(doc.dump(), {}).ok());
  doc["runs"] = 1'000'001;
  Result<BatchSpec> spec = ParseBatchSpec(doc.dump(), {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(spec.status().path(), "/runs");
}

TEST(BatchSpecCountTest, GroupProductOverflowBlamesTheGroupWhereItOverflows) {
  // 2^63 after 63 groups of 2 still fits; the 64th group (index 63) reaches 2^64.
  Result<BatchSpec> fits = Parse(BatchWithGroups(std::vector<size_t>(63, 2), 1));
  EXPECT_TRUE(fits.ok()) << fits.status().ToString();
  Result<BatchSpec> spec = Parse(BatchWithGroups(std::vector<size_t>(65, 2), 1));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/data/63");
}

TEST(BatchSpecCountTest, OverflowAtALaterGroupOfThrees) {
  // 3^40 < 2^64 < 3^41, so the 41st group of threes overflows; behind a leading group of
  // length 1 that is index 41.
  std::vector<size_t> lengths(41, 3);
  lengths.insert(lengths.begin(), 1);
  Result<BatchSpec> spec = Parse(BatchWithGroups(lengths, 1));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/data/41");
}

TEST(BatchSpecCountTest, OverflowIsReportedBeforeTheLimit) {
  // Even with the default (small) limit, a count past 2^64 is invalid, not merely too large.
  Result<BatchSpec> spec =
      ParseBatchSpec(BatchWithGroups(std::vector<size_t>(64, 2), 1).dump(), {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/data/63");
}

TEST(BatchSpecCountTest, RunsOverflowBlamesRuns) {
  // 2^62 runs of 8 sessions is 2^65.
  Result<BatchSpec> spec = Parse(BatchWithGroups({2, 2, 2}, uint64_t{1} << 62));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/runs");
  EXPECT_NE(spec.status().message().find("8 per run x 4611686018427387904 runs"), std::string::npos)
      << spec.status().message();
}

TEST(BatchSpecCountTest, RunsOverflowAtExactlyTwoToThe64) {
  // 2^61 * 8 = 2^64, one past UINT64_MAX; one run fewer fits, and only the limit stops it.
  EXPECT_EQ(Parse(BatchWithGroups({8}, uint64_t{1} << 61)).status().path(), "/runs");
  EXPECT_EQ(Parse(BatchWithGroups({8}, uint64_t{1} << 61)).status().code(),
            StatusCode::kInvalidArgument);
  Result<BatchSpec> fits = Parse(BatchWithGroups({8}, (uint64_t{1} << 61) - 1));
  EXPECT_TRUE(fits.ok()) << fits.status().ToString();
  Result<BatchSpec> limited = Parse(BatchWithGroups({8}, (uint64_t{1} << 61) - 1), 1000);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(limited.status().path(), "/runs");
}

TEST(BatchSpecCountTest, MaxInt64RunsWithoutGroupsFits) {
  Result<BatchSpec> spec = Parse(BatchWithGroups({}, INT64_MAX));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->runs, INT64_MAX);
}

}  // namespace
}  // namespace batchd
