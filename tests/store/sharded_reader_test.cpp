// The sharded zarr v3 reader (pipeline/formats/sharded_reader.h) over real stores: shards
// built by hand from the sharding_indexed spec (index at the end or the start, with or without
// its CRC-32C), read per inner chunk; missing inner chunks and missing shards read as nullopt;
// which byte ranges it asks for (one inner chunk: the index and that chunk only; a kept index is
// not read again); and hostile shards, each a kCorrupt naming the shard key.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "pipeline/formats/sharded_reader.h"
#include "pipeline/ops/digest.h"
#include "tests/store/read_collector.h"
#include "tests/store/store_backends.h"
#include "tests/support/nginx_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

using pipeline::ArrayMetadata;
using pipeline::ByteRange;
using pipeline::Bytes;
using pipeline::ChunkStore;

constexpr uint64_t kMissing = UINT64_MAX;

void PutLe(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A 2-d uint16 array of shape 10x12, inner chunks 2x3, shards 4x6 (2x2 inner chunks each): a
// shard grid of 3x2 shards, an inner grid of 5x4 chunks; stored uncompressed ("raw").
ArrayMetadata Layout(bool index_at_start, bool crc) {
  ArrayMetadata m;
  m.format = "zarr3";
  m.shape = {10, 12};
  m.chunk_shape = {2, 3};
  m.dtype = *pipeline::DataType::FromNumpy("<u2");
  m.fill_value = 0;
  m.keys = {.prefix = "c", .separator = '/'};
  m.shards = pipeline::ShardLayout{
      .chunks_per_shard = {2, 2}, .index_at_start = index_at_start, .index_crc32c = crc};
  return m;
}

// What an inner chunk at grid coordinates (r, c) holds: 12 bytes that name it.
Bytes InnerBytes(int64_t r, int64_t c) {
  Bytes out;
  for (int i = 0; i < 6; ++i) PutLe(out, static_cast<uint64_t>(1000 * r + 10 * c + i), 2);
  return out;
}

// One shard as the spec lays it out; inner chunks in `drop` (their number in the shard) are
// marked missing. Inner chunks are stored in reverse order, so offsets are not monotonic.
Bytes ShardBytes(const ArrayMetadata& m, int64_t sr, int64_t sc, const std::vector<int>& drop) {
  const bool start = m.shards->index_at_start;
  const uint64_t index_bytes = m.shards->IndexBytes();
  std::vector<std::pair<uint64_t, uint64_t>> entries(4, {kMissing, kMissing});
  Bytes body;
  for (int n = 3; n >= 0; --n) {
    if (std::find(drop.begin(), drop.end(), n) != drop.end()) continue;
    Bytes chunk = InnerBytes(sr * 2 + n / 2, sc * 2 + n % 2);
    entries[n] = {(start ? index_bytes : 0) + body.size(), chunk.size()};
    body.insert(body.end(), chunk.begin(), chunk.end());
  }
  Bytes index;
  for (auto [offset, nbytes] : entries) {
    PutLe(index, offset, 8);
    PutLe(index, nbytes, 8);
  }
  if (m.shards->index_crc32c) PutLe(index, pipeline::Crc32c(index), 4);
  Bytes out = start ? index : body;
  const Bytes& second = start ? body : index;
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

// Forwards to a store and records every GetRanges: the key and the ranges asked for.
class CountingStore final : public ChunkStore {
 public:
  explicit CountingStore(std::shared_ptr<ChunkStore> base) : base_(std::move(base)) {}
  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<pipeline::CancelToken> cancel, ReadCallback on_read) override {
    {
      std::lock_guard lock(mu_);
      whole_reads_ += keys.size();
    }
    base_->GetMany(std::move(keys), max_in_flight, std::move(cancel), std::move(on_read));
  }
  void GetRanges(std::string key, std::vector<ByteRange> ranges,
                 std::shared_ptr<pipeline::CancelToken> cancel, RangesCallback done) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back({key, ranges});
    }
    base_->GetRanges(std::move(key), std::move(ranges), std::move(cancel), std::move(done));
  }
  void Put(std::string key, Bytes data, WriteCallback done) override {
    base_->Put(std::move(key), std::move(data), std::move(done));
  }
  const std::string& url() const override { return base_->url(); }

  std::vector<std::pair<std::string, std::vector<ByteRange>>> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  size_t whole_reads() const {
    std::lock_guard lock(mu_);
    return whole_reads_;
  }

 private:
  std::shared_ptr<ChunkStore> base_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::vector<ByteRange>>> calls_;
  size_t whole_reads_ = 0;
};

// Reads `keys` through `store` with one GetMany and returns what each got.
std::vector<Result<std::optional<Bytes>>> ReadAll(ChunkStore& store,
                                                  const std::vector<std::string>& keys) {
  ReadCollector reads(keys.size());
  store.GetMany(keys, 4, nullptr, reads.Callback());
  EXPECT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  std::vector<Result<std::optional<Bytes>>> out;
  for (size_t i = 0; i < keys.size(); ++i) out.push_back(reads.result(i));
  return out;
}

std::string InnerKey(int64_t r, int64_t c) {
  return "c/" + std::to_string(r) + "/" + std::to_string(c);
}

class ShardedReaderTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    pipeline::StoreOptions options;
    options.http_retry_base_ms = 5;
    options.http_timeout_ms = 10'000;
    backend_ = GetParam().make(options);
    ASSERT_EQ(backend_->StartError(), "");
  }

  // Writes every shard of `m` under `array`, except `missing_shard`; inner chunk 1 of shard
  // (0, 0) is marked missing.
  std::shared_ptr<CountingStore> Seed(const std::string& array, const ArrayMetadata& m,
                                      const std::string& missing_shard) {
    for (int64_t sr = 0; sr < 3; ++sr) {
      for (int64_t sc = 0; sc < 2; ++sc) {
        const std::string key = InnerKey(sr, sc);
        if (key == missing_shard) continue;
        WriteFileForTest(
            backend_->ArrayDir(array) / key,
            ShardBytes(m, sr, sc, sr == 0 && sc == 0 ? std::vector<int>{1} : std::vector<int>{}));
      }
    }
    auto store = backend_->registry->Open(backend_->ArrayUrl(array));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::make_shared<CountingStore>(*store) : nullptr;
  }

  std::unique_ptr<StoreBackend> backend_;
};

TEST_P(ShardedReaderTest, EveryInnerChunkReadsWhatItsShardHolds) {
  for (bool start : {false, true}) {
    for (bool crc : {false, true}) {
      SCOPED_TRACE(std::string(start ? "index at start" : "index at end") +
                   (crc ? ", crc32c" : ""));
      const ArrayMetadata m = Layout(start, crc);
      const std::string array = std::string("a") + (start ? "s" : "e") + (crc ? "c" : "");
      auto counting = Seed(array, m, "c/2/1");
      ASSERT_TRUE(counting);
      auto reader = pipeline::OpenShardedReader(counting, m);
      std::vector<std::string> keys;
      for (int64_t r = 0; r < 5; ++r) {
        for (int64_t c = 0; c < 4; ++c) keys.push_back(InnerKey(r, c));
      }
      const auto results = ReadAll(*reader, keys);
      for (size_t i = 0; i < keys.size(); ++i) {
        const int64_t r = static_cast<int64_t>(i) / 4, c = static_cast<int64_t>(i) % 4;
        ASSERT_TRUE(results[i].ok()) << keys[i] << ": " << results[i].status().ToString();
        // (0, 1) is marked missing in shard c/0/0; shard c/2/1 holds (4, 2) and (4, 3).
        const bool missing = (r == 0 && c == 1) || (r == 4 && c >= 2);
        if (missing) {
          EXPECT_FALSE(results[i]->has_value()) << keys[i];
        } else {
          ASSERT_TRUE(results[i]->has_value()) << keys[i];
          EXPECT_EQ(**results[i], InnerBytes(r, c)) << keys[i];
        }
      }
      EXPECT_EQ(counting->whole_reads(), 0u) << "only ranges, never a whole shard";
    }
  }
}

TEST_P(ShardedReaderTest, OneInnerChunkCostsItsShardsIndexAndThatChunkOnly) {
  const ArrayMetadata m = Layout(false, true);
  auto counting = Seed("one", m, "");
  ASSERT_TRUE(counting);
  auto reader = pipeline::OpenShardedReader(counting, m);
  auto first = ReadAll(*reader, {InnerKey(3, 2)});  // shard c/1/1, inner chunk 2
  ASSERT_TRUE(first[0].ok()) << first[0].status().ToString();
  ASSERT_TRUE(first[0]->has_value());
  EXPECT_EQ(**first[0], InnerBytes(3, 2));
  auto calls = counting->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].first, "c/1/1");
  EXPECT_EQ(calls[0].second, std::vector<ByteRange>{ByteRange::Suffix(4 * 16 + 4)});
  EXPECT_EQ(calls[1].first, "c/1/1");
  ASSERT_EQ(calls[1].second.size(), 1u);
  EXPECT_EQ(calls[1].second[0].length, 12u) << "that inner chunk's bytes, nothing else";
  // Another inner chunk of the same shard, in a later read: its index is kept.
  auto second = ReadAll(*reader, {InnerKey(2, 3)});
  ASSERT_TRUE(second[0].ok()) << second[0].status().ToString();
  EXPECT_EQ(**second[0], InnerBytes(2, 3));
  calls = counting->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].second.size(), 1u);
  EXPECT_FALSE(calls[2].second[0].suffix);
}

TEST_P(ShardedReaderTest, HostileShardsAreCorruptNamingTheShard) {
  const ArrayMetadata m = Layout(false, true);
  auto counting = Seed("bad", m, "");
  ASSERT_TRUE(counting);
  const auto dir = backend_->ArrayDir("bad");
  auto rewrite = [&](const std::string& key, const std::function<void(Bytes&)>& edit) {
    Bytes shard = ShardBytes(m, key[2] - '0', key[4] - '0', {});
    edit(shard);
    WriteFileForTest(dir / key, shard);
  };
  const size_t index_at = ShardBytes(m, 0, 1, {}).size() - m.shards->IndexBytes();
  // c/0/1: a flipped bit in the index; c/1/0: shorter than an index; c/1/1: an inner chunk past
  // the end (CRC recomputed, so only the offset is wrong); c/2/0: only nbytes missing.
  rewrite("c/0/1", [&](Bytes& s) { s[index_at + 3] ^= 1; });
  rewrite("c/1/0", [&](Bytes& s) { s.resize(10); });
  auto set_entry = [&](Bytes& s, int n, uint64_t offset, uint64_t nbytes) {
    Bytes index;
    for (int i = 0; i < 4; ++i) {
      uint64_t o = 0, b = 0;
      for (int k = 7; k >= 0; --k) o = (o << 8) | s[index_at + 16 * i + k];
      for (int k = 7; k >= 0; --k) b = (b << 8) | s[index_at + 16 * i + 8 + k];
      if (i == n) o = offset, b = nbytes;
      PutLe(index, o, 8);
      PutLe(index, b, 8);
    }
    PutLe(index, pipeline::Crc32c(index), 4);
    std::copy(index.begin(), index.end(), s.begin() + static_cast<std::ptrdiff_t>(index_at));
  };
  rewrite("c/1/1", [&](Bytes& s) { set_entry(s, 0, 1000, 12); });
  rewrite("c/2/0", [&](Bytes& s) { set_entry(s, 0, 0, kMissing); });
  auto reader = pipeline::OpenShardedReader(counting, m);
  struct Case {
    std::string inner, shard, words;
  };
  for (const Case& c :
       {Case{InnerKey(0, 2), "c/0/1", "CRC-32C"}, Case{InnerKey(2, 0), "c/1/0", "past the end"},
        Case{InnerKey(2, 2), "c/1/1", "past the end"},
        Case{InnerKey(4, 0), "c/2/0", "only one of offset and nbytes"}}) {
    SCOPED_TRACE(c.shard);
    auto r = ReadAll(*reader, {c.inner});
    ASSERT_FALSE(r[0].ok());
    EXPECT_EQ(r[0].status().code(), StatusCode::kCorrupt) << r[0].status().ToString();
    EXPECT_NE(r[0].status().message().find("shard \"" + c.shard + "\""), std::string::npos)
        << r[0].status().ToString();
    EXPECT_NE(r[0].status().message().find(c.words), std::string::npos) << r[0].status().ToString();
  }
  // An inner chunk larger than the value bound is refused before it is read.
  reader->LimitValueBytes(11);
  auto big = ReadAll(*reader, {InnerKey(0, 0)});
  ASSERT_FALSE(big[0].ok());
  EXPECT_EQ(big[0].status().code(), StatusCode::kCorrupt);
  EXPECT_NE(big[0].status().message().find("more than the 11"), std::string::npos)
      << big[0].status().ToString();
  // A name that is no inner chunk of the grid.
  auto outside = ReadAll(*reader, {InnerKey(5, 0), "c/1", "x"});
  for (const auto& o : outside) EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllStores, ShardedReaderTest, ::testing::ValuesIn(AllBackendKinds()),
                         [](const auto& info) { return info.param.name; });

// Over http:// the ranges are real requests: nginx's access log shows them.
TEST(ShardedReaderHttpTest, OneInnerChunkIsTwoRangeRequestsToNginx) {
  TempDir root;
  const ArrayMetadata m = Layout(false, true);
  WriteFileForTest(root.path() / "arr" / "c" / "1" / "1", ShardBytes(m, 1, 1, {}));
  NginxOptions options;
  options.document_root = root.path();
  options.access_log = true;
  ASSERT_OK_AND_ASSIGN(auto nginx, NginxServer::Start(options));
  pipeline::StoreOptions store_options;
  store_options.http_allowlist = AllowLoopbackPort(nginx->port());
  pipeline::StoreRegistry registry;
  pipeline::RegisterBuiltinStores(registry, store_options);
  ASSERT_OK_AND_ASSIGN(auto store, registry.Open(nginx->Url("/arr")));
  auto reader = pipeline::OpenShardedReader(store, m);
  auto r = ReadAll(*reader, {InnerKey(3, 3)});
  ASSERT_TRUE(r[0].ok()) << r[0].status().ToString();
  ASSERT_TRUE(r[0]->has_value());
  EXPECT_EQ(**r[0], InnerBytes(3, 3));
  // nginx logs a request just after sending its answer: wait for both lines.
  std::vector<std::string> lines;
  for (int wait = 0; wait < 2000 && lines.size() < 2; ++wait) {
    if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream log(nginx->AccessLogPath());
    lines.clear();
    for (std::string line; std::getline(log, line);) lines.push_back(line);
  }
  // Both were answered before the read reported, and nothing else was asked for.
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) EXPECT_EQ(line, "GET /arr/c/1/1 206");
  ASSERT_OK(nginx->Stop());
}

}  // namespace
}  // namespace batchd::testing
