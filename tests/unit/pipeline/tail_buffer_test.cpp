// TailBuffer, LastLines and CappedLogFile (pipeline/process/): a program's output, bounded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "pipeline/process/capped_log_file.h"
#include "pipeline/process/tail_buffer.h"

namespace batchd::pipeline {
namespace {

TEST(TailBufferTest, KeepsTheLastBytesAcrossWrapsAndBigWrites) {
  TailBuffer t(5);
  t.Append("ab");
  EXPECT_EQ(t.Contents(), "ab");
  t.Append("cdefg");
  EXPECT_EQ(t.Contents(), "cdefg");
  t.Append("h");
  EXPECT_EQ(t.Contents(), "defgh");
  t.Append("0123456789");
  EXPECT_EQ(t.Contents(), "56789");
  t.Append("xy");
  EXPECT_EQ(t.Contents(), "789xy");
  EXPECT_EQ(t.total_bytes(), 20u);
}

TEST(TailBufferTest, LastLinesCountsFromTheEnd) {
  EXPECT_EQ(LastLines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(LastLines("a\nb\nc", 2), "b\nc");
  EXPECT_EQ(LastLines("only", 3), "only");
  EXPECT_EQ(LastLines("a\nb", 5), "a\nb");
  EXPECT_EQ(LastLines("", 5), "");
  EXPECT_EQ(LastLines("a\nb", 0), "");
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CappedLogFileTest, KeepsHeadAndTailWithAMarkerBetween) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("batchd-log-" + std::to_string(::getpid()));
  {
    Result<CappedLogFile> log = CappedLogFile::Create(path, 4, 3);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log->Append("ab");
    log->Append("cdefghij");  // head "abcd", then "efghij" of which "hij" is kept
    EXPECT_EQ(log->total_bytes(), 10u);
    EXPECT_TRUE(log->Close().ok());
  }
  EXPECT_EQ(ReadAll(path), "abcd\n[batchd: 3 bytes left out]\nhij");
  {
    Result<CappedLogFile> log = CappedLogFile::Create(path, 4, 3);  // truncates
    ASSERT_TRUE(log.ok());
    log->Append("abcdef");  // fits head + tail: nothing left out, no marker
  }
  EXPECT_EQ(ReadAll(path), "abcdef");
  std::filesystem::remove(path);
}

TEST(CappedLogFileTest, AnUncreatableFileIsAnErrorNamingIt) {
  Result<CappedLogFile> log = CappedLogFile::Create("/nonexistent-dir/x.log", 4, 4);
  EXPECT_EQ(log.status().code(), StatusCode::kIoError);
  EXPECT_NE(log.status().message().find("/nonexistent-dir/x.log"), std::string::npos);
}

}  // namespace
}  // namespace batchd::pipeline
