// Byte ranges (ChunkStore::GetRanges, byte_ranges.h): how ranges are merged into reads, and
// what every store answers (file:// with both enforcement paths, http:// and https:// against
// nginx): ranges in order, suffix ranges, a missing key, a range past the end. Then http://
// answers a real server may give instead of a 206: the whole value (200, Range ignored), 416,
// a part other than the one asked for; and how many requests merged ranges cost.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "pipeline/stores/byte_ranges.h"
#include "pipeline/stores/chunk_store.h"
#include "tests/store/store_backends.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using pipeline::ByteRange;
using pipeline::Bytes;
using pipeline::CoalesceRanges;
using pipeline::RangeRead;

Bytes Slice(const Bytes& value, size_t offset, size_t length) {
  return Bytes(value.begin() + static_cast<std::ptrdiff_t>(offset),
               value.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

TEST(CoalesceRangesTest, AdjacentAndNearRangesMergeInOffsetOrder) {
  const std::vector<ByteRange> ranges = {
      {.offset = 200, .length = 50}, {.offset = 0, .length = 100}, {.offset = 100, .length = 100}};
  const std::vector<RangeRead> reads = CoalesceRanges(ranges, /*max_gap=*/0);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].span, (ByteRange{.offset = 0, .length = 250}));
  EXPECT_EQ(reads[0].parts, (std::vector<size_t>{1, 2, 0}));
}

TEST(CoalesceRangesTest, AGapWiderThanTheLimitSplitsAndOverlapsMerge) {
  const std::vector<ByteRange> ranges = {{.offset = 0, .length = 10},
                                         {.offset = 5, .length = 10},   // overlaps
                                         {.offset = 25, .length = 5},   // gap 10: merged
                                         {.offset = 41, .length = 4}};  // gap 11: not
  const std::vector<RangeRead> reads = CoalesceRanges(ranges, /*max_gap=*/10);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].span, (ByteRange{.offset = 0, .length = 30}));
  EXPECT_EQ(reads[0].parts, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(reads[1].span, (ByteRange{.offset = 41, .length = 4}));
}

TEST(CoalesceRangesTest, MergedReadsStayWithinTheSizeLimitAndSuffixesStayAlone) {
  const std::vector<ByteRange> ranges = {{.offset = 0, .length = 60},
                                         {.offset = 60, .length = 60},
                                         ByteRange::Suffix(16),
                                         {.offset = 120, .length = 10}};
  const std::vector<RangeRead> reads = CoalesceRanges(ranges, /*max_gap=*/100, /*max_bytes=*/100);
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0].span, (ByteRange{.offset = 0, .length = 60}));
  EXPECT_EQ(reads[1].span, (ByteRange{.offset = 60, .length = 70}));
  EXPECT_EQ(reads[1].parts, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(reads[2].span, ByteRange::Suffix(16));
  EXPECT_EQ(reads[2].parts, (std::vector<size_t>{2}));
}

TEST(CoalesceRangesTest, EmptyAndOverflowingRangesAreRefused) {
  EXPECT_EQ(pipeline::ValidateRanges({}).code(), StatusCode::kInvalidArgument);
  const std::vector<ByteRange> empty = {{.offset = 3, .length = 0}};
  EXPECT_EQ(pipeline::ValidateRanges(empty).code(), StatusCode::kInvalidArgument);
  const std::vector<ByteRange> overflow = {{.offset = UINT64_MAX - 1, .length = 2}};
  EXPECT_EQ(pipeline::ValidateRanges(overflow).code(), StatusCode::kInvalidArgument);
}

TEST(CoalesceRangesTest, SliceRangesCutsAWholeValueAndRefusesPastTheEnd) {
  const Bytes value = TestBytes(100, 7);
  const std::vector<ByteRange> ranges = {{.offset = 90, .length = 10}, ByteRange::Suffix(20)};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::SliceRanges(value, ranges, "v"));
  EXPECT_EQ(parts[0], Slice(value, 90, 10));
  EXPECT_EQ(parts[1], Slice(value, 80, 20));
  const std::vector<ByteRange> past = {{.offset = 95, .length = 10}};
  EXPECT_EQ(pipeline::SliceRanges(value, past, "v").status().code(), StatusCode::kCorrupt);
  const std::vector<ByteRange> long_suffix = {ByteRange::Suffix(101)};
  EXPECT_EQ(pipeline::SliceRanges(value, long_suffix, "v").status().code(), StatusCode::kCorrupt);
}

class StoreRangesTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    pipeline::StoreOptions options;
    options.http_retry_base_ms = 5;
    options.http_timeout_ms = 10'000;
    backend_ = GetParam().make(options);
    ASSERT_EQ(backend_->StartError(), "");
    auto store = backend_->registry->Open(backend_->ArrayUrl("ranges"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
    value_ = TestBytes(300'000, 11);
    WriteFileForTest(backend_->ArrayDir("ranges") / "shard" / "0", value_);
  }

  std::unique_ptr<StoreBackend> backend_;
  std::shared_ptr<pipeline::ChunkStore> store_;
  Bytes value_;
};

TEST_P(StoreRangesTest, RangesComeBackInTheOrderAsked) {
  // Near ranges (merged into one read), a far one, and the value's last bytes.
  const std::vector<ByteRange> ranges = {{.offset = 200'000, .length = 1000},
                                         {.offset = 10, .length = 90},
                                         ByteRange::Suffix(16),
                                         {.offset = 100, .length = 4000},
                                         {.offset = 299'999, .length = 1}};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store_, "shard/0", ranges));
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), ranges.size());
  EXPECT_EQ((*parts)[0], Slice(value_, 200'000, 1000));
  EXPECT_EQ((*parts)[1], Slice(value_, 10, 90));
  EXPECT_EQ((*parts)[2], Slice(value_, value_.size() - 16, 16));
  EXPECT_EQ((*parts)[3], Slice(value_, 100, 4000));
  EXPECT_EQ((*parts)[4], Slice(value_, 299'999, 1));
}

TEST_P(StoreRangesTest, AMissingKeyReadsAsNullopt) {
  const std::vector<ByteRange> ranges = {ByteRange::Suffix(16)};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store_, "shard/1", ranges));
  EXPECT_FALSE(parts.has_value());
}

TEST_P(StoreRangesTest, ARangePastTheEndIsCorruptNamingTheKey) {
  for (const ByteRange& range :
       {ByteRange{.offset = 299'990, .length = 20}, ByteRange{.offset = 400'000, .length = 4},
        ByteRange::Suffix(300'001)}) {
    const std::vector<ByteRange> ranges = {{.offset = 0, .length = 4}, range};
    auto parts = pipeline::ReadRanges(*store_, "shard/0", ranges);
    ASSERT_FALSE(parts.ok()) << pipeline::HttpRangeHeader(range);
    EXPECT_EQ(parts.status().code(), StatusCode::kCorrupt) << parts.status().ToString();
    EXPECT_NE(parts.status().message().find("\"shard/0\""), std::string::npos)
        << parts.status().ToString();
  }
}

TEST_P(StoreRangesTest, RefusedKeysAndEmptyRangesAreInvalid) {
  const std::vector<ByteRange> ranges = {{.offset = 0, .length = 4}};
  EXPECT_EQ(pipeline::ReadRanges(*store_, "../x", ranges).status().code(),
            StatusCode::kInvalidArgument);
  const std::vector<ByteRange> empty = {{.offset = 0, .length = 0}};
  EXPECT_EQ(pipeline::ReadRanges(*store_, "shard/0", empty).status().code(),
            StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreRangesTest, ::testing::ValuesIn(AllBackendKinds()),
                         [](const auto& info) { return info.param.name; });

// http:// answers other than a clean 206, from a scripted server.
class HttpRangesTest : public ::testing::Test {
 protected:
  std::shared_ptr<pipeline::ChunkStore> Open(const std::string& url) {
    pipeline::StoreOptions options;
    options.http_retries = 0;
    options.http_timeout_ms = 10'000;
    options.http_allowlist = AllowLoopbackPort();
    registry_ = std::make_unique<pipeline::StoreRegistry>();
    pipeline::RegisterBuiltinStores(*registry_, options);
    auto store = registry_->Open(url);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  std::unique_ptr<ScriptedHttpServer> Start(ScriptedHttpServer::Handler handler) {
    auto server = ScriptedHttpServer::Start(std::move(handler));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  }

  std::unique_ptr<pipeline::StoreRegistry> registry_;
};

TEST_F(HttpRangesTest, AServerThatIgnoresRangeSendsTheWholeValueWhichIsCut) {
  auto server = Start([](const ScriptedHttpServer::Request&) {
    return ScriptedHttpServer::Reply{200, "0123456789"};
  });
  ASSERT_TRUE(server);
  auto store = Open(server->Url("/a"));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {{.offset = 2, .length = 3}, ByteRange::Suffix(2)};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store, "s", ranges));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(std::string((*parts)[0].begin(), (*parts)[0].end()), "234");
  EXPECT_EQ(std::string((*parts)[1].begin(), (*parts)[1].end()), "89");
}

TEST_F(HttpRangesTest, Status416IsCorruptWithTheSizeTheServerNames) {
  auto server = Start([](const ScriptedHttpServer::Request&) {
    return ScriptedHttpServer::Reply{.status = 416,
                                     .extra_headers = "Content-Range: bytes */10\r\n"};
  });
  ASSERT_TRUE(server);
  auto store = Open(server->Url("/a"));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {{.offset = 20, .length = 3}};
  auto parts = pipeline::ReadRanges(*store, "s", ranges);
  ASSERT_EQ(parts.status().code(), StatusCode::kCorrupt) << parts.status().ToString();
  EXPECT_NE(parts.status().message().find("past the end of its 10 bytes"), std::string::npos)
      << parts.status().ToString();
}

TEST_F(HttpRangesTest, APartOtherThanTheOneAskedForIsCorrupt) {
  // A server (or a cache in between) that answers another range than the one asked for.
  auto server = Start([](const ScriptedHttpServer::Request&) {
    return ScriptedHttpServer::Reply{
        .status = 206, .body = "abc", .extra_headers = "Content-Range: bytes 0-2/10\r\n"};
  });
  ASSERT_TRUE(server);
  auto store = Open(server->Url("/a"));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {{.offset = 4, .length = 3}};
  auto parts = pipeline::ReadRanges(*store, "s", ranges);
  ASSERT_EQ(parts.status().code(), StatusCode::kCorrupt) << parts.status().ToString();
  EXPECT_NE(parts.status().message().find("another part"), std::string::npos)
      << parts.status().ToString();
}

TEST_F(HttpRangesTest, MergedRangesCostOneRequestWithTheirRangeHeader) {
  std::mutex mu;
  std::vector<std::string> seen;
  const std::string value = "0123456789abcdefghij";
  auto server = Start([&](const ScriptedHttpServer::Request& r) {
    std::lock_guard lock(mu);
    seen.push_back(r.headers);
    return ScriptedHttpServer::Reply{.status = 206,
                                     .body = value.substr(2, 8),
                                     .extra_headers = "Content-Range: bytes 2-9/20\r\n"};
  });
  ASSERT_TRUE(server);
  auto store = Open(server->Url("/a"));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {{.offset = 6, .length = 4}, {.offset = 2, .length = 3}};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store, "s", ranges));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(std::string((*parts)[0].begin(), (*parts)[0].end()), "6789");
  EXPECT_EQ(std::string((*parts)[1].begin(), (*parts)[1].end()), "234");
  EXPECT_EQ(server->requests_received(), 1);
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].find("Range: bytes=2-9\r\n"), std::string::npos) << seen[0];
}

}  // namespace
}  // namespace batchd::testing
