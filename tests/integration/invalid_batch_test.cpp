// Rejected submissions: each answers with the documented status, an error body whose `path`
// names the offending member, and leaves the database exactly as it was ("A request that fails
// never changes any state", docs/api.md). Every case runs against its own daemon that already
// holds one batch, so "unchanged" is checked on a non-empty database.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

struct BadBatchCase {
  std::string name;
  std::function<std::string()> body;  // the raw request body
  int status;
  std::string code;
  std::vector<std::string> paths;  // acceptable error.path values
  std::vector<std::string> daemon_args = {};
  std::string content_type = "application/json";
};

// GoogleTest prints parameters into test names and messages; the case name says it all.
void PrintTo(const BadBatchCase& c, std::ostream* os) { *os << c.name; }

// The valid 24-session batch with one change applied, serialized.
std::function<std::string()> Mutated(std::function<void(json&)> change) {
  return [change] {
    json batch = ZippedAndProductBatch();
    change(batch);
    return batch.dump();
  };
}

std::function<std::string()> Raw(std::string text) {
  return [text] { return text; };
}

// A valid batch of roughly `bytes` bytes, padded through a template member (not the name:
// names are bounded at 1 KiB on their own).
std::string BatchOfSize(size_t bytes) {
  json batch = SimpleBatch("", 2);
  batch["template"]["pad"] = "";
  const size_t padded = batch.dump().size();
  batch["template"]["pad"] = std::string(bytes > padded ? bytes - padded : 0, 'x');
  return batch.dump();
}

class InvalidBatchTest : public DaemonTest, public ::testing::WithParamInterface<BadBatchCase> {};

TEST_P(InvalidBatchTest, IsRejectedWithPathAndChangesNothing) {
  const BadBatchCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartDaemon(c.daemon_args));
  ASSERT_OK_AND_ASSIGN(json seed,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("seed", 2), 201));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  const std::string body = c.body();
  ASSERT_OK_AND_ASSIGN(HttpResponse response,
                       client().Post("/api/v1/batches", body, c.content_type));
  EXPECT_TRUE(IsApiError(response, c.status, c.code, c.paths))
      << "  request body (" << body.size() << " bytes): " << body.substr(0, 600);

  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before) << "before: " << before.ToString() << "\nafter:  " << after.ToString();

  // The daemon still serves, and still holds exactly the seed batch.
  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  ASSERT_EQ(list["items"].size(), 1u) << list.dump();
  EXPECT_EQ(list["items"][0]["id"], seed["id"]);
}

const BadBatchCase kCases[] = {
    {"MalformedJson", Raw(R"({"template": {"op": "noop"},)"), 400, "malformed_json", {""}},
    {"EmptyBody", Raw(""), 400, "malformed_json", {""}},
    {"DocumentNotAnObject", Raw("[1, 2]"), 422, "invalid_batch", {""}},
    {"TemplateMissing",
     Mutated([](json& b) { b.erase("template"); }),
     422,
     "invalid_batch",
     {"/template"}},
    {"TemplateNotAnObject",
     Mutated([](json& b) { b["template"] = "noop"; }),
     422,
     "invalid_batch",
     {"/template"}},
    {"RunsAsString", Mutated([](json& b) { b["runs"] = "2"; }), 422, "invalid_batch", {"/runs"}},
    {"RunsNotAnInteger",
     Mutated([](json& b) { b["runs"] = 1.5; }),
     422,
     "invalid_batch",
     {"/runs"}},
    {"RunsZero", Mutated([](json& b) { b["runs"] = 0; }), 422, "invalid_batch", {"/runs"}},
    {"RunsNegative", Mutated([](json& b) { b["runs"] = -3; }), 422, "invalid_batch", {"/runs"}},
    {"NameNotAString", Mutated([](json& b) { b["name"] = 42; }), 422, "invalid_batch", {"/name"}},
    {"MaxAttemptsZero",
     Mutated([](json& b) { b["max_attempts"] = 0; }),
     422,
     "invalid_batch",
     {"/max_attempts"}},
    {"MaxRunningZero",
     Mutated([](json& b) { b["max_running"] = 0; }),
     422,
     "invalid_batch",
     {"/max_running"}},
    {"UnknownTopLevelMember",
     Mutated([](json& b) { b["nmae"] = "typo"; }),
     422,
     "invalid_batch",
     {"/nmae"}},
    {"DataNotAnArray",
     Mutated([](json& b) { b["data"] = json::object(); }),
     422,
     "invalid_batch",
     {"/data"}},
    {"EmptyGroup",
     Mutated([](json& b) { b["data"][1] = json::array(); }),
     422,
     "invalid_batch",
     {"/data/1"}},
    {"ItemsNotAnArray",
     Mutated([](json& b) { b["data"][0][0]["items"] = "abc"; }),
     422,
     "invalid_batch",
     {"/data/0/0/items"}},
    {"ItemsEmpty",
     Mutated([](json& b) { b["data"][1][0]["items"] = json::array(); }),
     422,
     "invalid_batch",
     {"/data/1/0/items"}},
    {"UnknownDatumMember",
     Mutated([](json& b) { b["data"][0][0]["itmes"] = json::array(); }),
     422,
     "invalid_batch",
     {"/data/0/0/itmes"}},
    {"FieldNotInTemplate",
     Mutated([](json& b) { b["data"][0][0]["field"] = "/nope/url"; }),
     422,
     "invalid_batch",
     {"/data/0/0/field"}},
    {"FieldNotAPointer",
     Mutated([](json& b) { b["data"][0][0]["field"] = "source/url"; }),
     422,
     "invalid_batch",
     {"/data/0/0/field"}},
    {"FieldUsedTwice",
     Mutated([](json& b) { b["data"][1][0]["field"] = "/source/url"; }),
     422,
     "invalid_batch",
     {"/data/1/0/field"}},
    // "/source/url" (later) lies inside "/source" (earlier): the later datum is at fault.
    {"FieldInsideAnotherUsedField",
     Mutated([](json& b) {
       b["data"][0][0]["field"] = "/source";
       b["data"][1][0]["field"] = "/source/url";
     }),
     422,
     "invalid_batch",
     {"/data/1/0/field"}},
    {"UnequalZipLengths",
     Mutated([](json& b) {
       b["data"][0][1]["items"] = json::array({1, 2});
     }),
     422,
     "invalid_batch",
     {"/data/0/1/items"}},
    // 2^62 runs times 4 * 3 items is past 2^64: a 422, not a 413 from the session limit.
    {"SessionCountOverflows64Bits",
     Mutated([](json& b) { b["runs"] = int64_t{1} << 62; }),
     422,
     "invalid_batch",
     {"/runs", "/data"}},
    {"SessionCountOverflowsWithMaxRuns",
     Mutated([](json& b) { b["runs"] = INT64_MAX; }),
     422,
     "invalid_batch",
     {"/runs", "/data"}},
    {"MoreSessionsThanTheLimit",
     Mutated([](json&) {}),
     413,
     "too_many_sessions",
     {"/data", "/runs"},
     {"--max-sessions-per-batch", "20"}},
    {"BodyOverTheLimit",
     [] { return BatchOfSize(10 * 1024); },
     413,
     "body_too_large",
     {""},
     {"--max-body-bytes", "4096"}},
};

INSTANTIATE_TEST_SUITE_P(Cases, InvalidBatchTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// The other side of each limit: a batch exactly at it is accepted.
class BatchLimitsTest : public DaemonTest {};

TEST_F(BatchLimitsTest, BatchAtTheSessionLimitIsAccepted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-sessions-per-batch", "24"}));
  ASSERT_OK_AND_ASSIGN(json created,
                       PostJson(client(), "/api/v1/batches", ZippedAndProductBatch(), 201));
  EXPECT_EQ(created["sessions"], 24);
}

TEST_F(BatchLimitsTest, BodyUnderTheByteLimitIsAccepted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-body-bytes", "4096"}));
  const std::string body = BatchOfSize(4000);
  ASSERT_LE(body.size(), 4096u);
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client().Post("/api/v1/batches", body));
  EXPECT_EQ(response.status, 201) << response.Describe();
}

// docs/api.md: bodies are parsed as JSON whatever their Content-Type, so `curl -d` (which sends
// application/x-www-form-urlencoded) works without extra flags.
TEST_F(BatchLimitsTest, BodyIsParsedAsJsonWhateverItsContentType) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain"}) {
    ASSERT_OK_AND_ASSIGN(HttpResponse response,
                         client().Post("/api/v1/batches", ZippedAndProductBatch().dump(), type));
    EXPECT_EQ(response.status, 201) << type << ": " << response.Describe();
  }
}

}  // namespace
}  // namespace batchd::testing
