// How the results export renders a session (api/results_export.h): the CSV header and the
// columns under it, JSON-valued cells as JSON text quoted per RFC 4180, JSON lines that stay one
// line whatever the values and messages hold, and the ?format parameter.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/results_export.h"
#include "tests/support/csv_records.h"

namespace batchd::api {
namespace {

using nlohmann::json;

ResultsLayout Layout(ResultsFormat format) {
  // Two groups (2 zipped datums x 2 items) and 2 runs: ordinal 5 is run 1, index [0, 1].
  const char* text = R"({"template": {"op": "noop", "label": "", "n": 0, "tags": null},
    "runs": 2,
    "data": [[{"field": "/label", "items": ["plain", "a,b \"q\"\nnext"]},
              {"field": "/n", "items": [1, 2.5]}],
             [{"field": "/tags", "items": [null, ["x", {"k": "v,w"}]]}]]})";
  Result<BatchSpec> spec = ParseBatchSpec(text, BatchSpecLimits::Stored());
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  const BatchShape shape = BatchShape::Of(*spec);
  return {.spec = std::move(*spec), .shape = shape, .format = format};
}

using ::batchd::testing::ParseCsvRecords;

const storage::SessionResultRow kFailed{.id = 42,
                                        .ordinal = 7,  // run 1, index [1, 1]
                                        .state = storage::SessionState::kError,
                                        .attempts = 3,
                                        .error_kind = "permanent",
                                        .error_message = "exit 3: bad, \"quoted\"\nline"};
const storage::SessionResultRow kCompleted{.id = 40,
                                           .ordinal = 5,  // run 1, index [0, 1]
                                           .state = storage::SessionState::kCompleted,
                                           .attempts = 1,
                                           .result_json = "{\n \"s\": \"x,\\\"y\\\"\"\n}"};

TEST(ResultsExportTest, CsvHasTheDocumentedColumnsAndQuotesJsonCells) {
  const ResultsLayout layout = Layout(ResultsFormat::kCsv);
  std::string text = ResultsHeader(ResultsFormat::kCsv);
  AppendResultRow(text, layout, kCompleted);
  AppendResultRow(text, layout, kFailed);
  const auto records = ParseCsvRecords(text);
  ASSERT_EQ(records.size(), 3u) << text;
  EXPECT_EQ(records[0],
            (std::vector<std::string>{"session_id", "ordinal", "run", "index", "values", "state",
                                      "attempts", "result", "error_kind", "error_message"}));
  ASSERT_EQ(records[1].size(), 10u);
  EXPECT_EQ(records[1][0], "40");
  EXPECT_EQ(records[1][1], "5");
  EXPECT_EQ(records[1][2], "1");
  EXPECT_EQ(json::parse(records[1][3]), json::parse("[0, 1]"));
  EXPECT_EQ(json::parse(records[1][4]),
            json::parse(R"({"/label": "plain", "/n": 1, "/tags": ["x", {"k": "v,w"}]})"));
  EXPECT_EQ(records[1][5], "completed");
  EXPECT_EQ(records[1][6], "1");
  EXPECT_EQ(records[1][7], R"({"s":"x,\"y\""})");  // compact JSON text
  EXPECT_EQ(records[1][8], "");
  EXPECT_EQ(records[1][9], "");
  ASSERT_EQ(records[2].size(), 10u);
  EXPECT_EQ(
      json::parse(records[2][4]),
      json::parse(R"({"/label": "a,b \"q\"\nnext", "/n": 2.5, "/tags": ["x", {"k": "v,w"}]})"));
  EXPECT_EQ(records[2][5], "error");
  EXPECT_EQ(records[2][7], "");  // no result: an empty cell
  EXPECT_EQ(records[2][8], "permanent");
  EXPECT_EQ(records[2][9], "exit 3: bad, \"quoted\"\nline");
}

TEST(ResultsExportTest, JsonLinesAreOneObjectPerLine) {
  const ResultsLayout layout = Layout(ResultsFormat::kJsonl);
  EXPECT_EQ(ResultsHeader(ResultsFormat::kJsonl), "");
  std::string text;
  AppendResultRow(text, layout, kCompleted);
  AppendResultRow(text, layout, kFailed);
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  const size_t end = text.find('\n');
  const json first = json::parse(text.substr(0, end));
  const json second = json::parse(text.substr(end + 1));
  EXPECT_EQ(first, json::parse(R"({"session_id": 40, "ordinal": 5, "run": 1, "index": [0, 1],
    "values": {"/label": "plain", "/n": 1, "/tags": ["x", {"k": "v,w"}]},
    "state": "completed", "attempts": 1, "result": {"s": "x,\"y\""}, "error": null})"));
  EXPECT_EQ(second["error"],
            json::parse(R"({"kind": "permanent", "message": "exit 3: bad, \"quoted\"\nline"})"));
  EXPECT_TRUE(second["result"].is_null());
  EXPECT_EQ(second["index"], json::parse("[1, 1]"));
}

TEST(ResultsExportTest, FormatIsJsonlByDefaultAndAnythingElseIsRefusedNamingIt) {
  HttpRequest r;
  ASSERT_TRUE(ParseResultsFormat(r).ok());
  EXPECT_EQ(*ParseResultsFormat(r), ResultsFormat::kJsonl);
  r.query["format"] = "csv";
  EXPECT_EQ(*ParseResultsFormat(r), ResultsFormat::kCsv);
  r.query["format"] = "CSV";
  Result<ResultsFormat> bad = ParseResultsFormat(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kMalformed);
  EXPECT_EQ(bad.status().path(), "?format");
  EXPECT_NE(bad.status().message().find("CSV"), std::string::npos);
}

}  // namespace
}  // namespace batchd::api
