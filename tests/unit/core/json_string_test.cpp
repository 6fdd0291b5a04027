#include "core/json_string.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace batchd {
namespace {

std::string Literal(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// The batch list writes its JSON by hand and must match what nlohmann writes for the same
// record, byte for byte (the API's other answers come from nlohmann).
TEST(JsonStringTest, WellFormedTextIsWrittenAsNlohmannWritesIt) {
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) every_ascii += static_cast<char>(c);
  for (const std::string& text :
       {std::string(), every_ascii, std::string("name \"quoted\" \\ back"),
        std::string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), std::string("tab\there\nnew")}) {
    EXPECT_EQ(Literal(text), nlohmann::json(text).dump()) << text;
  }
}

TEST(JsonStringTest, EachByteOutsideAWellFormedSequenceBecomesAReplacement) {
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, past U+10FFFF.
  const std::string text = "a\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80";
  const std::string literal = Literal(text);
  EXPECT_EQ(literal,
            "\"a\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
            "\\ufffd\\ufffd\\ufffd\\ufffd\"");
  EXPECT_NO_THROW(nlohmann::json::parse(literal));
}

TEST(JsonStringTest, SequenceLengths) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98", 0), 0u);  // truncated at the end
  EXPECT_EQ(Utf8SequenceLength("\xe0\x80\x80", 0), 0u);  // overlong
}

}  // namespace
}  // namespace batchd
