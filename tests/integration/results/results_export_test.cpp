// GET /api/v1/batches/{id}/results (docs/api.md "Results") from a real daemon: every session of
// a batch with its index, values, state, result and error, as JSON lines and as CSV, streamed
// chunked page by page. Awkward values (commas, quotes, line breaks in values, results and error
// messages) come back intact through both formats and equal GET /api/v1/sessions/{id}; a batch
// of several pages comes back whole and in order; a batch whose sessions never ran still lists
// them all; a bad format is a 400 naming `format`, a missing batch a 404; a read token may export,
// no token may not.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/csv_records.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"
#include "tests/support/scheduler_helpers.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

constexpr auto kGuard = std::chrono::seconds(120);

const std::vector<std::string> kCsvColumns = {"session_id", "ordinal",      "run",      "index",
                                              "values",     "state",        "attempts", "result",
                                              "error_kind", "error_message"};

// Each line of a JSON-lines body, parsed; a line that does not parse fails the test.
std::vector<json> JsonLines(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    json v = json::parse(line, nullptr, false);
    EXPECT_FALSE(v.is_discarded()) << "not JSON: " << line;
    out.push_back(std::move(v));
  }
  EXPECT_TRUE(body.empty() || body.back() == '\n') << "the last line is cut off";
  return out;
}

class ResultsExportTest : public DaemonTest {
 protected:
  Result<HttpResponse> Export(const std::string& id, const std::string& format) {
    return client().Get("/api/v1/batches/" + id + "/results?format=" + format);
  }

  // The CSV export of `id` as records under the documented header.
  std::vector<std::vector<std::string>> CsvRows(const std::string& id) {
    Result<HttpResponse> r = Export(id, "csv");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << r->Describe();
    EXPECT_EQ(r->headers["content-type"], "text/csv; charset=utf-8; header=present");
    EXPECT_EQ(r->headers["transfer-encoding"], "chunked");
    EXPECT_EQ(r->headers["content-disposition"],
              "attachment; filename=\"batch-" + id + "-results.csv\"");
    std::vector<std::vector<std::string>> records = ParseCsvRecords(r->body);
    EXPECT_FALSE(records.empty());
    if (records.empty()) return {};
    EXPECT_EQ(records.front(), kCsvColumns);
    records.erase(records.begin());
    for (const auto& rec : records) EXPECT_EQ(rec.size(), kCsvColumns.size());
    return records;
  }

  std::vector<json> JsonlRows(const std::string& id) {
    Result<HttpResponse> r = Export(id, "jsonl");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << r->Describe();
    EXPECT_EQ(r->headers["content-type"], "application/x-ndjson");
    return JsonLines(r->body);
  }
};

// A Python program whose result and stderr repeat LABEL; it fails (exit 3) when FAIL is "yes".
constexpr const char* kLabelProgram =
    "import json, os, sys\n"
    "label = os.environ['LABEL']\n"
    "if os.environ['FAIL'] == 'yes':\n"
    "    sys.stderr.write('cannot: ' + label + '\\n')\n"
    "    sys.exit(3)\n"
    "with open(os.environ['BATCHD_RESULT_FILE'], 'w') as f:\n"
    "    json.dump({'label': label, 'n': [1, 2.5]}, f, indent=2)\n";

TEST_F(ResultsExportTest, BothFormatsCarryAwkwardValuesResultsAndErrorsIntact) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--allow-command", "/usr/bin/python3"}));
  const std::vector<std::string> labels = {"plain", "comma, here", "say \"hi\"", "two\nlines",
                                           "crlf\r\nend"};
  const json batch = {{"name", "awkward"},
                      {"max_attempts", 1},
                      {"template",
                       {{"op", "command"},
                        {"argv", {"python3", "-c", kLabelProgram}},
                        {"env", {{"LABEL", ""}, {"FAIL", "no"}}}}},
                      {"data",
                       {{{{"field", "/env/LABEL"}, {"items", labels}},
                         {{"field", "/env/FAIL"}, {"items", {"no", "yes", "no", "yes", "no"}}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "failed", kGuard));
  ASSERT_EQ(done["counts"]["completed"], 3) << done.dump();

  const std::vector<json> lines = JsonlRows(id);
  const std::vector<std::vector<std::string>> csv = CsvRows(id);
  ASSERT_EQ(lines.size(), labels.size());
  ASSERT_EQ(csv.size(), labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    SCOPED_TRACE("session " + std::to_string(i));
    const json& line = lines[i];
    const std::vector<std::string>& rec = csv[i];
    ASSERT_OK_AND_ASSIGN(json session,
                         GetJson(client(), "/api/v1/sessions/" + line["session_id"].dump()));
    // The export says what the session endpoint says.
    EXPECT_EQ(line["ordinal"], i);
    EXPECT_EQ(line["index"], session["index"]);
    EXPECT_EQ(line["run"], session["run"]);
    EXPECT_EQ(line["values"], session["values"]);
    EXPECT_EQ(line["values"]["/env/LABEL"], labels[i]);
    EXPECT_EQ(line["state"], session["state"]);
    EXPECT_EQ(line["attempts"], session["attempts"]);
    EXPECT_EQ(line["result"], session["result"]);
    EXPECT_EQ(line["error"], session["error"]);
    const bool fails = i % 2 == 1;
    EXPECT_EQ(line["state"], fails ? "error" : "completed");
    if (fails) {
      EXPECT_NE(line["error"]["message"].get<std::string>().find("cannot: "), std::string::npos)
          << line.dump();
      EXPECT_TRUE(line["result"].is_null());
    } else {
      EXPECT_EQ(line["result"]["label"], labels[i]);
      EXPECT_TRUE(line["error"].is_null());
    }
    // And the CSV the same, cell by cell, JSON cells as JSON text.
    EXPECT_EQ(rec[0], line["session_id"].dump());
    EXPECT_EQ(rec[1], std::to_string(i));
    EXPECT_EQ(rec[2], line["run"].dump());
    EXPECT_EQ(json::parse(rec[3]), line["index"]);
    EXPECT_EQ(json::parse(rec[4]), line["values"]);
    EXPECT_EQ(rec[5], line["state"]);
    EXPECT_EQ(rec[6], line["attempts"].dump());
    if (fails) {
      EXPECT_EQ(rec[7], "");
      EXPECT_EQ(rec[8], line["error"]["kind"]);
      EXPECT_EQ(rec[9], line["error"]["message"]);
    } else {
      EXPECT_EQ(json::parse(rec[7]), line["result"]);
      EXPECT_EQ(rec[7].find('\n'), std::string::npos) << "result JSON text is compact";
      EXPECT_EQ(rec[8], "");
      EXPECT_EQ(rec[9], "");
    }
  }
}

TEST_F(ResultsExportTest, ABatchOfSeveralPagesComesBackWholeAndInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());  // sessions stay uninitialized: nothing ran
  constexpr int64_t kItems = 1250;        // with runs 2: 2500 sessions, pages of 1000
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SimpleBatch("pages", kItems, 2)));
  ASSERT_OK_AND_ASSIGN(std::string other, SubmitBatch(client(), SimpleBatch("next", 3)));

  const std::vector<json> lines = JsonlRows(id);
  ASSERT_EQ(lines.size(), static_cast<size_t>(2 * kItems));
  const std::vector<std::vector<std::string>> csv = CsvRows(id);
  ASSERT_EQ(csv.size(), static_cast<size_t>(2 * kItems));
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    ASSERT_EQ(line["ordinal"], i);
    if (i > 0) {
      ASSERT_EQ(line["session_id"], lines[i - 1]["session_id"].get<int64_t>() + 1);
    }
    ASSERT_EQ(line["run"], i / kItems);
    ASSERT_EQ(line["index"], json::array({i % kItems}));
    ASSERT_EQ(line["values"], json({{"/params/level", (i % kItems) * 10}}));
    ASSERT_EQ(line["state"], "uninitialized");
    ASSERT_EQ(line["attempts"], 0);
    ASSERT_TRUE(line["result"].is_null() && line["error"].is_null());
    ASSERT_EQ(csv[i][0], line["session_id"].dump());
    ASSERT_EQ(csv[i][5], "uninitialized");
    ASSERT_EQ(csv[i][7], "");
  }
  // The next batch's sessions are not in it, and its own export has only its own.
  EXPECT_EQ(JsonlRows(other).size(), 3u);
}

TEST_F(ResultsExportTest, ABatchWhoseSessionsWereCanceledBeforeRunningListsThemAll) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SimpleBatch("never ran", 2)));
  ASSERT_OK_AND_ASSIGN(
      json canceled, PostJson(client(), "/api/v1/batches/" + id + "/cancel", json::object(), 200));
  ASSERT_EQ(canceled["state"], "canceled") << canceled.dump();
  const std::vector<std::vector<std::string>> csv = CsvRows(id);
  ASSERT_EQ(csv.size(), 2u);
  for (const auto& rec : csv) {
    EXPECT_EQ(rec[5], "canceled");
    EXPECT_EQ(rec[7], "");
    EXPECT_EQ(rec[8], "");
  }
}

TEST_F(ResultsExportTest, ABadFormatIs400NamingItAndAMissingBatch404) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SimpleBatch("b", 2)));
  for (const std::string format : {"xml", "CSV", ""}) {
    ASSERT_OK_AND_ASSIGN(HttpResponse r, Export(id, format));
    EXPECT_EQ(r.status, 400) << r.Describe();
    const json body = r.Json();
    EXPECT_EQ(body["error"]["path"], "?format") << r.Describe();
    EXPECT_NE(body["error"]["message"].get<std::string>().find("format"), std::string::npos);
  }
  for (const std::string format : {"csv", "jsonl"}) {
    ASSERT_OK_AND_ASSIGN(HttpResponse r, Export("00000000000000ff", format));
    EXPECT_EQ(r.status, 404) << r.Describe();
    EXPECT_EQ(r.Json()["error"]["code"], "not_found") << r.Describe();
  }
  // Without ?format: JSON lines.
  ASSERT_OK_AND_ASSIGN(HttpResponse plain, client().Get("/api/v1/batches/" + id + "/results"));
  EXPECT_EQ(plain.status, 200) << plain.Describe();
  EXPECT_EQ(JsonLines(plain.body).size(), 2u);
}

TEST_F(ResultsExportTest, AReadTokenMayExportAndNoTokenMayNot) {
  const auto tokens = WriteTokenFile(data_dir(), StandardTokenFile());
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--token-file", tokens.string()}));
  ASSERT_OK_AND_ASSIGN(
      HttpResponse created,
      CallWithToken(client(), "POST", "/api/v1/batches", kAdminToken, SimpleBatch("auth", 3).dump(),
                    {{"Content-Type", "application/json"}}));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string target =
      "/api/v1/batches/" + created.Json()["id"].get<std::string>() + "/results?format=csv";
  ASSERT_OK_AND_ASSIGN(HttpResponse none, client().Get(target));
  EXPECT_EQ(none.status, 401) << none.Describe();
  ASSERT_OK_AND_ASSIGN(HttpResponse read, CallWithToken(client(), "GET", target, kReadToken));
  EXPECT_EQ(read.status, 200) << read.Describe();
  EXPECT_EQ(ParseCsvRecords(read.body).size(), 4u);  // the header and 3 sessions
}

}  // namespace
}  // namespace batchd::testing
