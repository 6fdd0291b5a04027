// The chunk stream's wire format and result folding (pipeline/ops/chunk_stream_protocol.h):
// answers split however the pipe delivers them, every malformed answer refused with what is
// wrong, and the reductions.
#include "pipeline/ops/chunk_stream_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using nlohmann::json;

TEST(ChunkStreamProtocolTest, HeaderLinesAreOneJsonLineEach) {
  const std::vector<int64_t> coords = {1, 0}, shape = {4, 6};
  const std::string line = ChunkHeaderLine("1.0", coords, shape, "<f4", 96, true);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(json::parse(line), json({{"key", "1.0"},
                                     {"coords", {1, 0}},
                                     {"shape", {4, 6}},
                                     {"dtype", "<f4"},
                                     {"bytes", 96},
                                     {"missing", true}}));
  EXPECT_EQ(json::parse(StreamEndLine()), json({{"end", true}}));
  EXPECT_EQ(json::parse(StreamHelloLine({{"dtype", "<i4"}}, nullptr))["version"], 1);
}

TEST(ChunkStreamProtocolTest, TheReaderSplitsLinesAndPayloadsWhateverTheBoundaries) {
  const std::string stream = std::string("{\"key\":\"0\",\"bytes\":5}\nABCDE") +
                             "{\"key\":\"1\",\"result\":{\"s\":1}}\n" +
                             "{\"key\":\"2\",\"bytes\":3}\nxyz";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, stream.size()}) {
    std::vector<std::string> lines, payloads;
    AnswerReader reader(
        [&](std::string_view line) -> Result<uint64_t> {
          lines.emplace_back(line);
          return json::parse(line).value("bytes", uint64_t{0});
        },
        [&](Bytes payload) {
          payloads.emplace_back(payload.begin(), payload.end());
          return Status::Ok();
        });
    for (size_t i = 0; i < stream.size(); i += step) {
      ASSERT_TRUE(reader.Feed(std::string_view(stream).substr(i, step)).ok()) << step;
    }
    EXPECT_FALSE(reader.InTheMiddle());
    ASSERT_EQ(lines.size(), 3u) << step;
    EXPECT_EQ(payloads, (std::vector<std::string>{"ABCDE", "", "xyz"})) << step;
  }
}

TEST(ChunkStreamProtocolTest, ALineOverTheLimitStopsTheReaderForGood) {
  int lines = 0;
  AnswerReader reader([&](std::string_view) -> Result<uint64_t> { return ++lines, 0; },
                      [](Bytes) { return Status::Ok(); });
  const std::string big(kMaxAnswerLineBytes, 'x');  // no room left for its '\n'
  const Status s = reader.Feed(big);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("longer than 65536"), std::string::npos) << s.ToString();
  EXPECT_FALSE(reader.Feed("{}\n").ok());
  EXPECT_EQ(lines, 0);
  // A line of exactly the limit, '\n' included, passes.
  AnswerReader fits([&](std::string_view) -> Result<uint64_t> { return ++lines, 0; },
                    [](Bytes) { return Status::Ok(); });
  EXPECT_TRUE(fits.Feed(std::string(kMaxAnswerLineBytes - 1, ' ') + "\n").ok());
  EXPECT_EQ(lines, 1);
}

TEST(ChunkStreamProtocolTest, MalformedAnswersAreRefusedSayingWhatIsWrong) {
  struct Case {
    std::string line;
    std::optional<uint64_t> output;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"hello", std::nullopt, "not a JSON object line (it starts \"hello\")"},
      {"[1]", std::nullopt, "not a JSON object line"},
      {"{\"result\":{}}", std::nullopt, "no \"key\""},
      {"{\"key\":\"0.1\"}", std::nullopt, "answered chunk \"0.1\""},
      {"{\"key\":\"0.0\",\"error\":\"bad data\"}", std::nullopt, "reported: bad data"},
      {"{\"key\":\"0.0\",\"result\":3}", std::nullopt, "must be an object"},
      {"{\"key\":\"0.0\",\"bytes\":4}", std::nullopt, "no \"sink\""},
      {"{\"key\":\"0.0\",\"bytes\":4}", 8, "exactly 8"},
      {"{\"key\":\"0.0\",\"bytes\":-8}", 8, "exactly 8"},
      {"{\"key\":\"0.0\"}", 8, "\"skip\": true"},
      {std::string(40, '[') + std::string(40, ']'), std::nullopt, "nested deeper"},
  };
  for (const Case& c : cases) {
    Result<ChunkAnswer> a = ParseAnswerLine(c.line, "0.0", c.output);
    ASSERT_FALSE(a.ok()) << c.line;
    EXPECT_NE(a.status().message().find(c.needle), std::string::npos)
        << c.line << ": " << a.status().ToString();
  }
  Result<ChunkAnswer> out = ParseAnswerLine("{\"key\":\"0.0\",\"bytes\":8}", "0.0", 8);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->has_output);
  EXPECT_EQ(out->output_bytes, 8u);
  Result<ChunkAnswer> skip = ParseAnswerLine("{\"key\":\"0.0\",\"skip\":true}", "0.0", 8);
  ASSERT_TRUE(skip.ok());
  EXPECT_FALSE(skip->has_output);
}

TEST(ChunkStreamProtocolTest, ResultsFoldByTheirReductionsAndUnnamedMembersAreSummed) {
  ASSERT_OK_AND_ASSIGN(ResultFold fold,
                       ResultFold::Create({{"lo", "min"}, {"hi", "max"}, {"n", "count"}}));
  for (const json& r :
       {json{{"s", 1}, {"lo", 3}, {"hi", 3}, {"n", "x"}}, json{{"s", 2.5}, {"lo", -1}, {"hi", 9}},
        json{{"s", 4}, {"lo", 0}, {"hi", 2}, {"n", nullptr}}}) {
    ASSERT_TRUE(fold.Check(r).ok()) << r.dump();
    fold.Add(r);
  }
  EXPECT_EQ(fold.values(), json({{"s", 7.5}, {"lo", -1}, {"hi", 9}, {"n", 2}}));
  // A number is needed wherever a member is not counted.
  EXPECT_FALSE(fold.Check({{"s", "many"}}).ok());
  EXPECT_FALSE(fold.Check({{"lo", nullptr}}).ok());
  // Through its JSON and merged with another: as if folded at once.
  ASSERT_OK_AND_ASSIGN(ResultFold back, ResultFold::FromJson(fold.ToJson()));
  ASSERT_OK_AND_ASSIGN(ResultFold other, ResultFold::Create({{"lo", "min"}, {"n", "count"}}));
  other.Add({{"s", 1}, {"lo", -5}, {"n", 1}});
  back.Merge(other);
  EXPECT_EQ(back.values(), json({{"s", 8.5}, {"lo", -5}, {"hi", 9}, {"n", 3}}));
  // Integer sums stay integers.
  ASSERT_OK_AND_ASSIGN(ResultFold ints, ResultFold::Create(nullptr));
  ints.Add({{"s", int64_t{1} << 52}});
  ints.Add({{"s", 1}});
  EXPECT_EQ(ints.values()["s"], (int64_t{1} << 52) + 1);
  EXPECT_TRUE(ints.values()["s"].is_number_integer());
}

TEST(ChunkStreamProtocolTest, BadReductionsAreRefusedNamingTheMember) {
  const Status s = ResultFold::CheckReduce({{"sum", "median"}});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("\"sum\""), std::string::npos) << s.ToString();
  EXPECT_FALSE(ResultFold::CheckReduce(json::array()).ok());
  EXPECT_TRUE(ResultFold::CheckReduce(nullptr).ok());
}

}  // namespace
}  // namespace batchd::pipeline
