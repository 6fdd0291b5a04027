// Every way a JSON document can fail to be a v1 batch, each with the exact pointer the client
// is told about. One table row per rule, so a rule without a row is easy to spot.
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/batch_spec.h"

namespace batchd {
namespace {

struct Rejection {
  const char* label;    // the test name
  const char* doc;      // the submitted text (valid JSON)
  const char* path;     // the expected Status::path()
  const char* message;  // a piece the message must contain, or "" when not pinned
};

// Templates shared by the data rows, so each row shows only what it breaks.
#define TEMPLATE R"("template": {"a": 0, "b": 0, "c": 0, "list": [0, 1], "s": {"url": 0}})"

const Rejection kRejections[] = {
    // The document itself.
    {"RootArray", "[]", "", "a batch must be a JSON object, got an array"},
    {"RootString", R"("batch")", "", "got \"batch\""},
    {"RootNull", "null", "", "got null"},
    {"RootNumber", "3", "", "got 3"},
    {"UnknownMember", R"({"template": {}, "nmae": "x"})", "/nmae", "unknown member \"nmae\""},
    {"UnknownMemberIsEscapedInPath", R"({"template": {}, "a/b~c": 1})", "/a~1b~0c", ""},
    {"UnknownMemberBeforeOtherErrors", R"({"runs": 0, "zzz": 1})", "/zzz", ""},
    // name
    {"NameNumber", R"({"template": {}, "name": 5})", "/name", "name must be a string, got 5"},
    {"NameNull", R"({"template": {}, "name": null})", "/name", ""},
    // priority: any int64, but only as an integer JSON number.
    {"PriorityFraction", R"({"template": {}, "priority": 1.5})", "/priority", "got 1.5"},
    {"PriorityWholeFloat", R"({"template": {}, "priority": 2.0})", "/priority", "got 2.0"},
    {"PriorityExponent", R"({"template": {}, "priority": 1e3})", "/priority", ""},
    {"PriorityString", R"({"template": {}, "priority": "1"})", "/priority", "got \"1\""},
    {"PriorityBool", R"({"template": {}, "priority": true})", "/priority", "got true"},
    {"PriorityNull", R"({"template": {}, "priority": null})", "/priority", "got null"},
    {"PriorityPastInt64Max", R"({"template": {}, "priority": 9223372036854775808})", "/priority",
     "got 9223372036854775808"},
    {"PriorityPastInt64Min", R"({"template": {}, "priority": -9223372036854775809})", "/priority",
     ""},
    // runs
    {"RunsZero", R"({"template": {}, "runs": 0})", "/runs", "runs must be an integer >= 1, got 0"},
    {"RunsNegative", R"({"template": {}, "runs": -2})", "/runs", "got -2"},
    {"RunsFraction", R"({"template": {}, "runs": 1.5})", "/runs", ""},
    {"RunsWholeFloat", R"({"template": {}, "runs": 1.0})", "/runs", ""},
    {"RunsString", R"({"template": {}, "runs": "1"})", "/runs", ""},
    {"RunsBool", R"({"template": {}, "runs": true})", "/runs", ""},
    {"RunsNull", R"({"template": {}, "runs": null})", "/runs", ""},
    {"RunsArray", R"({"template": {}, "runs": [1]})", "/runs", "got an array"},
    {"RunsUint64Max", R"({"template": {}, "runs": 18446744073709551615})", "/runs", ""},
    // max_running: null or >= 1.
    {"MaxRunningZero", R"({"template": {}, "max_running": 0})", "/max_running",
     "max_running must be null or an integer >= 1, got 0"},
    {"MaxRunningNegative", R"({"template": {}, "max_running": -3})", "/max_running", ""},
    {"MaxRunningFraction", R"({"template": {}, "max_running": 2.5})", "/max_running", ""},
    {"MaxRunningString", R"({"template": {}, "max_running": "2"})", "/max_running", ""},
    {"MaxRunningBool", R"({"template": {}, "max_running": false})", "/max_running", ""},
    {"MaxRunningObject", R"({"template": {}, "max_running": {}})", "/max_running", "an object"},
    // max_attempts
    {"MaxAttemptsZero", R"({"template": {}, "max_attempts": 0})", "/max_attempts",
     "max_attempts must be an integer >= 1, got 0"},
    {"MaxAttemptsWholeFloat", R"({"template": {}, "max_attempts": 3.0})", "/max_attempts", ""},
    {"MaxAttemptsPastInt64", R"({"template": {}, "max_attempts": 9223372036854775808})",
     "/max_attempts", ""},
    // template
    {"TemplateMissing", R"({"runs": 1})", "/template", "template is required"},
    {"TemplateArray", R"({"template": []})", "/template", "template must be an object"},
    {"TemplateString", R"({"template": "x"})", "/template", ""},
    {"TemplateNull", R"({"template": null})", "/template", ""},
    // data and its groups
    {"DataObject", R"({"template": {}, "data": {}})", "/data", "data must be an array"},
    {"DataNull", R"({"template": {}, "data": null})", "/data", ""},
    {"GroupNotArray", "{" TEMPLATE R"(, "data": [{"field": "/a", "items": [1]}]})", "/data/0",
     "a data group must be an array"},
    {"SecondGroupNotArray", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1]}], 5]})",
     "/data/1", ""},
    {"GroupEmpty", "{" TEMPLATE R"(, "data": [[]]})", "/data/0", "must not be empty"},
    // datums
    {"DatumNotObject", "{" TEMPLATE R"(, "data": [[5]]})", "/data/0/0", "a datum must be"},
    {"SecondDatumNotObject", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1]}, []]]})",
     "/data/0/1", ""},
    {"DatumUnknownMember",
     "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1], "extra": 1}]]})", "/data/0/0/extra",
     "unknown member \"extra\""},
    {"DatumUnknownMemberEscaped",
     "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1], "it/ems": 1}]]})",
     "/data/0/0/it~1ems", ""},
    {"DatumMissingField", "{" TEMPLATE R"(, "data": [[{"items": [1]}]]})", "/data/0/0/field",
     "field is required"},
    {"DatumMissingItems", "{" TEMPLATE R"(, "data": [[{"field": "/a"}]]})", "/data/0/0/items",
     "items is required"},
    // field
    {"FieldNumber", "{" TEMPLATE R"(, "data": [[{"field": 5, "items": [1]}]]})", "/data/0/0/field",
     "field must be a JSON Pointer string, got 5"},
    {"FieldNull", "{" TEMPLATE R"(, "data": [[{"field": null, "items": [1]}]]})", "/data/0/0/field",
     ""},
    {"FieldWholeTemplate", "{" TEMPLATE R"(, "data": [[{"field": "", "items": [1]}]]})",
     "/data/0/0/field", "whole template"},
    {"FieldWithoutLeadingSlash", "{" TEMPLATE R"(, "data": [[{"field": "a", "items": [1]}]]})",
     "/data/0/0/field", "is not a JSON Pointer"},
    {"FieldBadEscape", "{" TEMPLATE R"(, "data": [[{"field": "/a~2", "items": [1]}]]})",
     "/data/0/0/field", "is not a JSON Pointer"},
    {"FieldDanglingTilde", "{" TEMPLATE R"(, "data": [[{"field": "/a~", "items": [1]}]]})",
     "/data/0/0/field", "is not a JSON Pointer"},
    {"FieldNotInTemplate", "{" TEMPLATE R"(, "data": [[{"field": "/nope", "items": [1]}]]})",
     "/data/0/0/field", "field \"/nope\" does not exist in template"},
    {"FieldBelowAScalar", "{" TEMPLATE R"(, "data": [[{"field": "/a/b", "items": [1]}]]})",
     "/data/0/0/field", "does not exist"},
    {"FieldIndexOutOfRange", "{" TEMPLATE R"(, "data": [[{"field": "/list/2", "items": [1]}]]})",
     "/data/0/0/field", "does not exist"},
    {"FieldAppendIndex", "{" TEMPLATE R"(, "data": [[{"field": "/list/-", "items": [1]}]]})",
     "/data/0/0/field", "does not exist"},
    {"FieldIndexLeadingZero", "{" TEMPLATE R"(, "data": [[{"field": "/list/01", "items": [1]}]]})",
     "/data/0/0/field", "does not exist"},
    {"FieldIndexPastSizeT",
     "{" TEMPLATE R"(, "data": [[{"field": "/list/99999999999999999999999", "items": [1]}]]})",
     "/data/0/0/field", "does not exist"},
    {"FieldInSecondGroup",
     "{" TEMPLATE
     R"(, "data": [[{"field": "/a", "items": [1]}], [{"field": "/x", "items": [1]}]]})",
     "/data/1/0/field", ""},
    // items
    {"ItemsObject", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": {}}]]})",
     "/data/0/0/items", "items must be an array, got an object"},
    {"ItemsString", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": "abc"}]]})",
     "/data/0/0/items", ""},
    {"ItemsNull", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": null}]]})",
     "/data/0/0/items", ""},
    {"ItemsEmpty", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": []}]]})", "/data/0/0/items",
     "items must not be empty"},
    // zipped datums of one group need equal counts; the first datum that differs is named.
    {"UnequalCountsThirdDatum",
     "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1, 2]}, {"field": "/b", "items": [1, 2]},
                                 {"field": "/c", "items": [1, 2, 3]}]]})",
     "/data/0/2/items",
     "items has length 3 but the first datum of this group (/data/0/0) has length 2"},
    {"UnequalCountsSecondDatum",
     "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1, 2]}, {"field": "/b", "items": [1]},
                                 {"field": "/c", "items": [1, 2, 3]}]]})",
     "/data/0/1/items", "items has length 1 but"},
    {"UnequalCountsSecondGroup", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1]}],
                                [{"field": "/b", "items": [1, 2]}, {"field": "/c", "items": [1]}]]})",
     "/data/1/1/items", ""},
    // A field is used once, and never inside another used field; the later use is blamed.
    {"FieldTwiceInOneGroup",
     "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1]}, {"field": "/a", "items": [2]}]]})",
     "/data/0/1/field", "field \"/a\" is already used at /data/0/0/field"},
    {"FieldTwiceAcrossGroups", "{" TEMPLATE R"(, "data": [[{"field": "/a", "items": [1]}],
                                [{"field": "/b", "items": [1]}, {"field": "/a", "items": [2]}]]})",
     "/data/1/1/field", "already used at /data/0/0/field"},
    {"FieldInsideUsedField",
     "{" TEMPLATE
     R"(, "data": [[{"field": "/s", "items": [{}]}], [{"field": "/s/url", "items": [1]}]]})",
     "/data/1/0/field", "field \"/s/url\" is inside \"/s\", already used at /data/0/0/field"},
    {"FieldContainingUsedField",
     "{" TEMPLATE
     R"(, "data": [[{"field": "/s/url", "items": [1]}], [{"field": "/s", "items": [{}]}]]})",
     "/data/1/0/field", "field \"/s\" contains \"/s/url\", already used at /data/0/0/field"},
    {"FieldInsideUsedFieldSameGroup",
     "{" TEMPLATE
     R"(, "data": [[{"field": "/list", "items": [1]}, {"field": "/list/0", "items": [1]}]]})",
     "/data/0/1/field", "is inside \"/list\""},
};

#undef TEMPLATE

// So a failing row prints its name, not gtest's byte dump of the struct.
void PrintTo(const Rejection& r, std::ostream* os) { *os << r.label; }

class BatchSpecRejectionTest : public testing::TestWithParam<Rejection> {};

TEST_P(BatchSpecRejectionTest, IsInvalidArgumentAtItsPath) {
  const Rejection& r = GetParam();
  Result<BatchSpec> spec = ParseBatchSpec(r.doc, {});
  ASSERT_FALSE(spec.ok()) << r.doc;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << spec.status().ToString();
  EXPECT_EQ(spec.status().path(), r.path) << spec.status().ToString();
  EXPECT_NE(spec.status().message().find(r.message), std::string::npos)
      << "message: " << spec.status().message() << "\nexpected to contain: " << r.message;
}

TEST_P(BatchSpecRejectionTest, IsRejectedTheSameWayFromParsedJson) {
  const Rejection& r = GetParam();
  Result<BatchSpec> spec = BatchSpecFromJson(nlohmann::json::parse(r.doc), {});
  ASSERT_FALSE(spec.ok()) << r.doc;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << spec.status().ToString();
  EXPECT_EQ(spec.status().path(), r.path) << spec.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(AllRules, BatchSpecRejectionTest, testing::ValuesIn(kRejections),
                         [](const testing::TestParamInfo<Rejection>& info) {
                           return std::string(info.param.label);
                         });

// Hand-built documents can hold what parsed text cannot; they must still fail cleanly.
TEST(BatchSpecFromJsonTest, DiscardedValueIsNotABatch) {
  Result<BatchSpec> spec =
      BatchSpecFromJson(nlohmann::json(nlohmann::json::value_t::discarded), {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "");
}

TEST(BatchSpecFromJsonTest, InvalidUtf8InARejectedValueDoesNotThrow) {
  nlohmann::json doc = {{"template", nlohmann::json::object()}, {"runs", "\xff\xfe"}};
  Result<BatchSpec> spec = BatchSpecFromJson(doc, {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().path(), "/runs");
}

TEST(BatchSpecMessageTest, LongRejectedValuesAreShortenedOnACharacterBoundary) {
  // 2-byte characters after one quote: a plain byte cut at 60 would split one of them.
  std::string runs;
  for (int i = 0; i < 100; ++i) runs += "\u00e9";
  Result<BatchSpec> spec = ParseBatchSpec(R"({"template": {}, "runs": ")" + runs + "\"}", {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().path(), "/runs");
  EXPECT_NE(spec.status().message().find("..."), std::string::npos) << spec.status().message();
  EXPECT_LT(spec.status().message().size(), 120u);
  // The API puts the message in a JSON body; strict dumping throws on broken UTF-8.
  EXPECT_NO_THROW(nlohmann::json(spec.status().message()).dump());
}

TEST(BatchSpecFromJsonTest, UnsignedAndSignedIntegersAreBothIntegers) {
  nlohmann::json doc = {{"template", nlohmann::json::object()},
                        {"runs", nlohmann::json(uint64_t{4})},
                        {"priority", nlohmann::json(int64_t{-4})}};
  Result<BatchSpec> spec = BatchSpecFromJson(doc, {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->runs, 4);
  EXPECT_EQ(spec->priority, -4);
}

}  // namespace
}  // namespace batchd
