// What ParseBatchSpec accepts: defaults, full documents, the canonical form and its round trip,
// and how it refuses text that is not JSON at all. Rejections of valid JSON live in
// batch_spec_rejection_test.cpp, session counting in batch_spec_count_test.cpp.
#include "core/batch_spec.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace batchd {
namespace {

using nlohmann::json;

// The example from docs/api.md, so the documented batch is known to be accepted.
const char* kDocExample = R"({
  "name": "t2m stats",
  "priority": 0,
  "runs": 1,
  "max_running": null,
  "max_attempts": 3,
  "template": {"op": "noop", "source": {"url": "file:///data/a.zarr/t2m"}, "region": null},
  "data": [
    [ {"field": "/source/url", "items": ["file:///data/a.zarr/t2m", "file:///data/a.zarr/u10"]} ],
    [ {"field": "/region", "items": [[[0, 8], [0, 16]], [[8, 16], [0, 16]]]} ]
  ]
})";

// Field-by-field, so a failure names the member that differs.
void ExpectSameSpec(const BatchSpec& a, const BatchSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.max_running, b.max_running);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.job_template, b.job_template);
  ASSERT_EQ(a.data.size(), b.data.size());
  for (size_t g = 0; g < a.data.size(); ++g) {
    ASSERT_EQ(a.data[g].size(), b.data[g].size()) << "group " << g;
    for (size_t d = 0; d < a.data[g].size(); ++d) {
      EXPECT_EQ(a.data[g][d].field, b.data[g][d].field) << "group " << g << " datum " << d;
      EXPECT_EQ(a.data[g][d].items, b.data[g][d].items) << "group " << g << " datum " << d;
    }
  }
}

TEST(BatchSpecParseTest, AcceptsTheDocumentedExample) {
  Result<BatchSpec> spec = ParseBatchSpec(kDocExample, {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "t2m stats");
  EXPECT_EQ(spec->priority, 0);
  EXPECT_EQ(spec->runs, 1);
  EXPECT_EQ(spec->max_running, std::nullopt);
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_EQ(spec->job_template["op"], "noop");
  ASSERT_EQ(spec->data.size(), 2u);
  ASSERT_EQ(spec->data[0].size(), 1u);
  EXPECT_EQ(spec->data[0][0].field, "/source/url");
  EXPECT_EQ(spec->data[0][0].items,
            json::parse(R"(["file:///data/a.zarr/t2m", "file:///data/a.zarr/u10"])"));
  EXPECT_EQ(spec->data[1][0].field, "/region");
  EXPECT_EQ(spec->data[1][0].items, json::parse("[[[0, 8], [0, 16]], [[8, 16], [0, 16]]]"));
}

TEST(BatchSpecParseTest, OnlyTemplateIsRequiredAndTheRestDefaults) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({"template": {}})", {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "");
  EXPECT_EQ(spec->priority, 0);
  EXPECT_EQ(spec->runs, 1);
  EXPECT_EQ(spec->max_running, std::nullopt);
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_EQ(spec->job_template, json::object());
  EXPECT_TRUE(spec->data.empty());
}

TEST(BatchSpecParseTest, ReadsEveryMemberWhenGiven) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({
    "name": "n", "priority": -5, "runs": 4, "max_running": 2, "max_attempts": 1,
    "template": {"a": 1, "b": [0, 0]},
    "data": [[{"field": "/a", "items": [1, 2]}, {"field": "/b/1", "items": ["x", "y"]}]]
  })",
                                          {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "n");
  EXPECT_EQ(spec->priority, -5);
  EXPECT_EQ(spec->runs, 4);
  EXPECT_EQ(spec->max_running, 2);
  EXPECT_EQ(spec->max_attempts, 1);
  ASSERT_EQ(spec->data.size(), 1u);
  ASSERT_EQ(spec->data[0].size(), 2u);
  EXPECT_EQ(spec->data[0][1].field, "/b/1");
}

TEST(BatchSpecParseTest, PriorityTakesTheWholeInt64Range) {
  for (int64_t p : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0},
                    std::numeric_limits<int64_t>::max()}) {
    json doc = {{"template", json::object()}, {"priority", p}};
    Result<BatchSpec> spec = ParseBatchSpec(doc.dump(), {});
    ASSERT_TRUE(spec.ok()) << p << ": " << spec.status().ToString();
    EXPECT_EQ(spec->priority, p);
  }
}

TEST(BatchSpecParseTest, ExplicitNullMaxRunningMeansNoLimit) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({"template": {}, "max_running": null})", {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->max_running, std::nullopt);
}

TEST(BatchSpecParseTest, FieldsMayEscapeSlashAndTildeAndIndexArrays) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({
    "template": {"a/b": 0, "c~d": 0, "list": [{"x": 0}, {"x": 0}], "": 0},
    "data": [[{"field": "/a~1b", "items": [1]}], [{"field": "/c~0d", "items": [2]}],
             [{"field": "/list/1/x", "items": [3]}], [{"field": "/", "items": [4]}]]
  })",
                                          {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->data[0][0].field, "/a~1b");
  EXPECT_EQ(spec->data[1][0].field, "/c~0d");
  EXPECT_EQ(spec->data[2][0].field, "/list/1/x");
  EXPECT_EQ(spec->data[3][0].field, "/");  // the member named "" is a field like any other
}

TEST(BatchSpecParseTest, SiblingsAndLookalikePrefixesAreNotNested) {
  // "/source" and "/sourcex" share characters but not a path, so both may be used.
  Result<BatchSpec> spec = ParseBatchSpec(R"({
    "template": {"source": {"url": 0, "urlx": 0}, "sourcex": 0},
    "data": [[{"field": "/source/url", "items": [1]}, {"field": "/source/urlx", "items": [2]}],
             [{"field": "/sourcex", "items": [3]}]]
  })",
                                          {});
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
}

TEST(BatchSpecParseTest, ItemsMayBeAnyJsonValue) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({
    "template": {"v": null},
    "data": [[{"field": "/v", "items": [null, true, 1.5, "s", [1], {"k": {}}]}]]
  })",
                                          {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->data[0][0].items.size(), 6u);
}

TEST(BatchSpecParseTest, FromJsonAcceptsTheSameDocumentAsText) {
  Result<BatchSpec> from_text = ParseBatchSpec(kDocExample, {});
  Result<BatchSpec> from_json = BatchSpecFromJson(json::parse(kDocExample), {});
  ASSERT_TRUE(from_text.ok()) << from_text.status().ToString();
  ASSERT_TRUE(from_json.ok()) << from_json.status().ToString();
  ExpectSameSpec(*from_text, *from_json);
}

TEST(BatchSpecParseTest, FromJsonValidatesToo) {
  Result<BatchSpec> spec = BatchSpecFromJson({{"template", json::object()}, {"runs", 0}}, {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/runs");
}

TEST(BatchSpecJsonTest, CanonicalFormHasEveryMember) {
  BatchSpec spec;
  spec.job_template = {{"op", "noop"}};
  json doc = BatchSpecToJson(spec);
  EXPECT_EQ(doc, json::parse(R"({"name": "", "priority": 0, "runs": 1, "max_running": null,
                                 "max_attempts": 3, "template": {"op": "noop"}, "data": []})"));
}

TEST(BatchSpecJsonTest, CanonicalFormOfAFullSpec) {
  BatchSpec spec;
  spec.name = "full";
  spec.priority = -3;
  spec.runs = 2;
  spec.max_running = 5;
  spec.max_attempts = 9;
  spec.job_template = {{"a", 0}, {"b", 0}};
  spec.data = {{{"/a", json::array({1, 2})}, {"/b", json::array({"x", "y"})}}};
  EXPECT_EQ(BatchSpecToJson(spec), json::parse(R"({
    "name": "full", "priority": -3, "runs": 2, "max_running": 5, "max_attempts": 9,
    "template": {"a": 0, "b": 0},
    "data": [[{"field": "/a", "items": [1, 2]}, {"field": "/b", "items": ["x", "y"]}]]})"));
}

TEST(BatchSpecJsonTest, RoundTripsThroughText) {
  for (const char* text :
       {kDocExample, R"({"template": {}})",
        R"({"name": "ü ✓", "priority": -9223372036854775808, "runs": 7, "max_running": 1,
            "max_attempts": 9223372036854775807, "template": {"a": {"b": [0, 1]}, "c": 0},
            "data": [[{"field": "/a/b/1", "items": [1, 2]}, {"field": "/c", "items": [3, 4]}],
                     [{"field": "/a/b/0", "items": [{"deep": [null]}]}]]})"}) {
    Result<BatchSpec> first = ParseBatchSpec(text, {});
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    Result<BatchSpec> second = ParseBatchSpec(BatchSpecToJson(*first).dump(), {});
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    ExpectSameSpec(*first, *second);
    EXPECT_EQ(BatchSpecToJson(*first), BatchSpecToJson(*second));
  }
}

TEST(BatchSpecJsonTest, BuiltSpecRoundTrips) {
  BatchSpec spec;
  spec.name = "built";
  spec.priority = 12;
  spec.runs = 3;
  spec.max_running = std::nullopt;
  spec.max_attempts = 1;
  spec.job_template = {{"x", {{"y", 0}}}, {"z", json::array({0, 0})}};
  spec.data = {{{"/x/y", json::array({1, 2, 3})}}, {{"/z/0", json::array({true, false})}}};
  Result<BatchSpec> parsed = ParseBatchSpec(BatchSpecToJson(spec).dump(), {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ExpectSameSpec(spec, *parsed);
}

// Not JSON at all: kMalformed, with the position in the message and no path.
TEST(BatchSpecMalformedTest, RejectsTextThatIsNotJson) {
  for (const char* text : {"", "   ", "{", "{\"template\": {}", "{\"template\": {},}", "nope",
                           "{\"template\": {}} trailing", "{'template': {}}",
                           "{\"template\": {/* c */}}", "{\"a\": \"\xff\"}"}) {
    Result<BatchSpec> spec = ParseBatchSpec(text, {});
    ASSERT_FALSE(spec.ok()) << text;
    EXPECT_EQ(spec.status().code(), StatusCode::kMalformed) << text;
    EXPECT_EQ(spec.status().path(), "") << text;
  }
}

TEST(BatchSpecMalformedTest, MessageGivesLineAndColumn) {
  Result<BatchSpec> spec = ParseBatchSpec("{\n  \"template\": {},\n  \"runs\": 1x\n}", {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kMalformed);
  EXPECT_NE(spec.status().message().find("line 3, column"), std::string::npos)
      << spec.status().message();
  // nlohmann's exception id is an implementation detail, not for clients.
  EXPECT_EQ(spec.status().message().find("json.exception"), std::string::npos)
      << spec.status().message();
}

TEST(BatchSpecMalformedTest, NumberPastDoubleRangeIsMalformedAndNamed) {
  Result<BatchSpec> spec = ParseBatchSpec(R"({"template": {}, "priority": 1e999})", {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kMalformed);
  EXPECT_EQ(spec.status().path(), "");
  EXPECT_NE(spec.status().message().find("1e999"), std::string::npos) << spec.status().message();
}

TEST(BatchSpecMalformedTest, RefusesNestingDeeperThanTheLimitBeforeParsing) {
  // 100k levels crash nlohmann's parser outright; this must be a clean error instead.
  std::string deep =
      "{\"template\": {\"a\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}}";
  Result<BatchSpec> spec = ParseBatchSpec(deep, {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kMalformed);
  EXPECT_EQ(spec.status().path(), "");
  // The 63rd '[' (depth 65, counting the two braces) is the 82nd byte, counting from 1.
  EXPECT_NE(spec.status().message().find("deeper than 64 levels at byte 82"), std::string::npos)
      << spec.status().message();
}

TEST(BatchSpecMalformedTest, NestingExactlyAtTheLimitIsAccepted) {
  BatchSpecLimits limits;
  limits.max_nesting_depth = 4;
  // Depth 4: the document, template, "a"'s array, and the inner array.
  EXPECT_TRUE(ParseBatchSpec(R"({"template": {"a": [[1]]}})", limits).ok());
  Result<BatchSpec> spec = ParseBatchSpec(R"({"template": {"a": [[[1]]]}})", limits);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kMalformed);
}

TEST(BatchSpecMalformedTest, BracketsInsideStringsDoNotCountAsNesting) {
  BatchSpecLimits limits;
  limits.max_nesting_depth = 2;
  // Escaped quotes must not end the string early and expose the brackets after them.
  Result<BatchSpec> spec =
      ParseBatchSpec(R"({"name": "[[[{{{ \" [[[ \\", "template": {"a": "]]]}}}"}})", limits);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "[[[{{{ \" [[[ \\");
}

}  // namespace
}  // namespace batchd
