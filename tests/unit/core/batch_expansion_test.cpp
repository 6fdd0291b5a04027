// Batch expansion: the ordinal <-> (run, index) arithmetic and the values each session gets.
// The acceptance test checks every session of a three-group batch against a plain nested loop
// written without any of the code under test.
#include "core/batch_expansion.h"

#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace batchd {
namespace {

using nlohmann::json;

BatchSpec ParseOrDie(const char* text) {
  Result<BatchSpec> spec = ParseBatchSpec(text, {});
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : BatchSpec{};
}

// Group 0 zips two datums of 2 items, group 1 has 3 items, group 2 has 4; 2 runs: 48 sessions.
const char* kThreeGroups = R"({
  "runs": 2,
  "template": {"op": "noop", "a": null, "b": null, "c": "keep?", "d": {"e": [0, 0], "f": "kept"}},
  "data": [
    [{"field": "/a", "items": ["a0", "a1"]}, {"field": "/b", "items": [10, 11]}],
    [{"field": "/c", "items": [{"c": 0}, {"c": 1}, {"c": 2}]}],
    [{"field": "/d/e/1", "items": [true, null, 2.5, "d3"]}]
  ]
})";

struct ExpectedSession {
  uint64_t run, i0, i1, i2;
  json values;
  json job;
};

TEST(BatchExpansionAcceptanceTest, EverySessionMatchesANestedLoopInOrder) {
  const BatchSpec spec = ParseOrDie(kThreeGroups);
  // The expectation is built from the document's own arrays, not from the parsed spec.
  const json doc = json::parse(kThreeGroups);
  const json& a = doc["data"][0][0]["items"];
  const json& b = doc["data"][0][1]["items"];
  const json& c = doc["data"][1][0]["items"];
  const json& d = doc["data"][2][0]["items"];
  std::vector<ExpectedSession> expected;
  for (uint64_t run = 0; run < 2; ++run) {
    for (uint64_t i0 = 0; i0 < 2; ++i0) {
      for (uint64_t i1 = 0; i1 < 3; ++i1) {
        for (uint64_t i2 = 0; i2 < 4; ++i2) {
          json values = {{"/a", a[i0]}, {"/b", b[i0]}, {"/c", c[i1]}, {"/d/e/1", d[i2]}};
          json job = doc["template"];
          job["a"] = a[i0];
          job["b"] = b[i0];
          job["c"] = c[i1];
          job["d"]["e"][1] = d[i2];
          expected.push_back({run, i0, i1, i2, values, job});
        }
      }
    }
  }
  ASSERT_EQ(expected.size(), 48u);

  const BatchShape shape = BatchShape::Of(spec);
  EXPECT_EQ(shape.group_lengths, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(shape.runs, 2u);
  ASSERT_EQ(shape.SessionCount(), std::optional<uint64_t>(48));

  for (uint64_t ordinal = 0; ordinal < 48; ++ordinal) {
    SCOPED_TRACE(testing::Message() << "ordinal " << ordinal);
    const ExpectedSession& want = expected[ordinal];
    SessionIndex index = IndexOfOrdinal(shape, ordinal);
    EXPECT_EQ(index.run, want.run);
    EXPECT_EQ(index.index, (std::vector<uint64_t>{want.i0, want.i1, want.i2}));
    EXPECT_EQ(SessionValues(spec, index), want.values);
    EXPECT_EQ(SubstitutedTemplate(spec, index), want.job);
    EXPECT_EQ(OrdinalOfIndex(shape, index), ordinal);
    // The inverse also holds when starting from the loop's own index.
    EXPECT_EQ(OrdinalOfIndex(shape, {want.run, {want.i0, want.i1, want.i2}}), ordinal);
  }
}

TEST(BatchExpansionAcceptanceTest, SubstitutionLeavesTheSpecUntouched) {
  const BatchSpec spec = ParseOrDie(kThreeGroups);
  const json before = spec.job_template;
  json job = SubstitutedTemplate(spec, IndexOfOrdinal(BatchShape::Of(spec), 47));
  EXPECT_EQ(spec.job_template, before);
  EXPECT_EQ(job["d"]["f"], "kept");
  EXPECT_EQ(job["d"]["e"], json::parse(R"([0, "d3"])"));
  EXPECT_EQ(job["op"], "noop");
}

// The session shown in docs/api.md: ordinal 3 of the documented batch.
TEST(BatchExpansionTest, DocumentedExampleSession) {
  const BatchSpec spec = ParseOrDie(R"({
    "template": {"op": "noop", "source": {"url": "file:///data/a.zarr/t2m"}, "region": null},
    "data": [
      [ {"field": "/source/url", "items": ["file:///data/a.zarr/t2m", "file:///data/a.zarr/u10"]} ],
      [ {"field": "/region", "items": [[[0, 8], [0, 16]], [[8, 16], [0, 16]]]} ]
    ]})");
  const BatchShape shape = BatchShape::Of(spec);
  ASSERT_EQ(shape.SessionCount(), std::optional<uint64_t>(4));
  SessionIndex index = IndexOfOrdinal(shape, 3);
  EXPECT_EQ(index.run, 0u);
  EXPECT_EQ(index.index, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(SessionValues(spec, index), json::parse(R"({"/source/url": "file:///data/a.zarr/u10",
                                                         "/region": [[8, 16], [0, 16]]})"));
  EXPECT_EQ(SubstitutedTemplate(spec, index),
            json::parse(R"({"op": "noop", "source": {"url": "file:///data/a.zarr/u10"},
                            "region": [[8, 16], [0, 16]]})"));
}

TEST(BatchExpansionTest, NoGroupsGivesRunsSessionsOfTheBareTemplate) {
  const BatchSpec spec = ParseOrDie(R"({"runs": 3, "template": {"op": "noop"}})");
  const BatchShape shape = BatchShape::Of(spec);
  EXPECT_TRUE(shape.group_lengths.empty());
  ASSERT_EQ(shape.SessionCount(), std::optional<uint64_t>(3));
  for (uint64_t ordinal = 0; ordinal < 3; ++ordinal) {
    SessionIndex index = IndexOfOrdinal(shape, ordinal);
    EXPECT_EQ(index.run, ordinal);
    EXPECT_TRUE(index.index.empty());
    EXPECT_EQ(OrdinalOfIndex(shape, index), ordinal);
    EXPECT_EQ(SessionValues(spec, index), json::object());
    EXPECT_EQ(SubstitutedTemplate(spec, index), spec.job_template);
  }
}

TEST(BatchShapeTest, SessionCountMultipliesGroupsAndRuns) {
  EXPECT_EQ((BatchShape{{}, 1}.SessionCount()), std::optional<uint64_t>(1));
  EXPECT_EQ((BatchShape{{}, 7}.SessionCount()), std::optional<uint64_t>(7));
  EXPECT_EQ((BatchShape{{5}, 1}.SessionCount()), std::optional<uint64_t>(5));
  EXPECT_EQ((BatchShape{{2, 3, 4}, 2}.SessionCount()), std::optional<uint64_t>(48));
}

TEST(BatchShapeTest, SessionCountOverflowIsNullopt) {
  const uint64_t two32 = uint64_t{1} << 32;
  // Two groups needing 2^64 sessions, one more than fits.
  EXPECT_EQ((BatchShape{{two32, two32}, 1}.SessionCount()), std::nullopt);
  EXPECT_EQ((BatchShape{{two32, two32 - 1}, 1}.SessionCount()),
            std::optional<uint64_t>(two32 * (two32 - 1)));
  // 2^62 runs of a product of 8.
  EXPECT_EQ((BatchShape{{2, 2, 2}, uint64_t{1} << 62}.SessionCount()), std::nullopt);
  EXPECT_EQ((BatchShape{{2, 2, 2}, (uint64_t{1} << 61) - 1}.SessionCount()),
            std::optional<uint64_t>(((uint64_t{1} << 61) - 1) * 8));
  EXPECT_EQ((BatchShape{{std::numeric_limits<uint64_t>::max()}, 1}.SessionCount()),
            std::optional<uint64_t>(std::numeric_limits<uint64_t>::max()));
  EXPECT_EQ((BatchShape{{std::numeric_limits<uint64_t>::max()}, 2}.SessionCount()), std::nullopt);
}

TEST(BatchShapeTest, AnEmptyGroupMeansNoSessionsEvenIfOthersWouldOverflow) {
  const uint64_t two40 = uint64_t{1} << 40;
  EXPECT_EQ((BatchShape{{two40, two40, 0}, 1}.SessionCount()), std::optional<uint64_t>(0));
  EXPECT_EQ((BatchShape{{two40, two40}, 0}.SessionCount()), std::optional<uint64_t>(0));
}

TEST(BatchShapeTest, OfUsesTheZippedLengthOfEachGroup) {
  BatchSpec spec;
  spec.runs = 5;
  spec.data = {{{"/a", json::array({1, 2, 3})}, {"/b", json::array({4, 5, 6})}},
               {{"/c", json::array({7})}}};
  const BatchShape shape = BatchShape::Of(spec);
  EXPECT_EQ(shape.group_lengths, (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(shape.runs, 5u);
}

TEST(BatchExpansionTest, OrdinalsNearTheTopOfUint64RoundTrip) {
  const uint64_t two32 = uint64_t{1} << 32;
  const BatchShape shape{{two32, two32 - 1}, 1};
  const uint64_t last = *shape.SessionCount() - 1;
  SessionIndex index = IndexOfOrdinal(shape, last);
  EXPECT_EQ(index.run, 0u);
  EXPECT_EQ(index.index, (std::vector<uint64_t>{two32 - 1, two32 - 2}));
  for (uint64_t ordinal : {uint64_t{0}, uint64_t{1}, two32 - 2, two32 - 1, two32, last - 1, last}) {
    EXPECT_EQ(OrdinalOfIndex(shape, IndexOfOrdinal(shape, ordinal)), ordinal) << ordinal;
  }
}

TEST(BatchExpansionTest, RunIsTheMostSignificantDigit) {
  const BatchShape shape{{3, 5}, 4};
  // One whole product (15 sessions) passes before run changes.
  EXPECT_EQ(IndexOfOrdinal(shape, 14).run, 0u);
  EXPECT_EQ(IndexOfOrdinal(shape, 15).run, 1u);
  EXPECT_EQ(IndexOfOrdinal(shape, 15).index, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(IndexOfOrdinal(shape, 59).run, 3u);
  EXPECT_EQ(IndexOfOrdinal(shape, 59).index, (std::vector<uint64_t>{2, 4}));
  // The last group varies fastest.
  EXPECT_EQ(IndexOfOrdinal(shape, 1).index, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(IndexOfOrdinal(shape, 5).index, (std::vector<uint64_t>{1, 0}));
}

}  // namespace
}  // namespace batchd
