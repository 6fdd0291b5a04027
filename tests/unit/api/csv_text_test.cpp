// The CSV writer of the results export (RFC 4180): what is quoted, how quotes double, CRLF
// record ends, and that a field's bytes are otherwise untouched.
#include <gtest/gtest.h>

#include "api/csv_text.h"

namespace batchd::api {
namespace {

std::string Field(std::string_view text) {
  std::string out;
  AppendCsvField(out, text);
  return out;
}

TEST(CsvTextTest, PlainFieldsAreWrittenAsTheyAre) {
  EXPECT_EQ(Field("completed"), "completed");
  EXPECT_EQ(Field(""), "");
  EXPECT_EQ(Field(" padded "), " padded ");                      // spaces are data (RFC 4180 2.4)
  EXPECT_EQ(Field("t\xc3\xa9l\xc3\xa9"), "t\xc3\xa9l\xc3\xa9");  // UTF-8 untouched
  EXPECT_EQ(Field("tab\there"), "tab\there");
}

TEST(CsvTextTest, CommasQuotesAndLineBreaksAreQuotedWithQuotesDoubled) {
  EXPECT_EQ(Field("a,b"), "\"a,b\"");
  EXPECT_EQ(Field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Field("\""), "\"\"\"\"");
  EXPECT_EQ(Field("one\ntwo"), "\"one\ntwo\"");
  EXPECT_EQ(Field("one\r\ntwo"), "\"one\r\ntwo\"");
  EXPECT_EQ(Field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(Field(R"({"a":[1,2]})"), R"("{""a"":[1,2]}")");
}

TEST(CsvTextTest, RecordsSeparateFieldsByCommasAndEndWithCrlf) {
  std::string out;
  AppendCsvRecord(out, {"1", "x,y", "", "z"});
  AppendCsvRecord(out, {"only"});
  EXPECT_EQ(out, "1,\"x,y\",,z\r\nonly\r\n");
}

}  // namespace
}  // namespace batchd::api
