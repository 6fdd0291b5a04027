// The chunk engine with a store that reads on the caller's thread (ChunkStore::ReadNow), as
// file:// does for cached files: every chunk is processed and folded exactly once whichever way
// it was read — directly, through GetMany because it was not at hand, or through GetMany
// because the store has no fast path — the byte budget holds for direct reads too, a failed
// direct read fails the session naming the chunk, and a cancel ends it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "core/mutex.h"
#include "core/worker_pool.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/engine/chunk_pipeline.h"
#include "pipeline/engine/io_thread_pool.h"

namespace batchd::pipeline {
namespace {

using Outcome = ChunkStore::ReadNowOutcome;

// A 40 x 30 float32 array in 4 x 3 chunks: 100 chunks of 48 bytes, stored uncompressed.
// Element (i, j) holds i * 30 + j; chunk "5.7" is missing (it reads as the fill value, 0).
ArrayMetadata TestArray() {
  ArrayMetadata a;
  a.format = "raw";
  a.shape = {40, 30};
  a.chunk_shape = {4, 3};
  a.dtype = {DataType::Kind::kFloat, 4, false};
  a.fill_value = 0;
  a.codec = {{"id", "raw"}};
  return a;
}
constexpr int64_t kChunks = 100;
constexpr int64_t kChunkBytes = 48;

double ExpectedSum() {
  double sum = 0;
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 30; ++j)
      if (!(i / 4 == 5 && j / 3 == 7)) sum += i * 30 + j;
  return sum;
}

// An in-memory store whose ReadNow answers as `policy` says for each key, and which counts how
// each key was read and how many chunks are held (read, not yet folded) at once.
class FakeStore final : public ChunkStore {
 public:
  using Policy = std::function<Result<Outcome>(const std::string& key)>;

  explicit FakeStore(Policy policy) : policy_(std::move(policy)), io_(2, 1024) {
    const ArrayMetadata a = TestArray();
    for (int ci = 0; ci < 10; ++ci) {
      for (int cj = 0; cj < 10; ++cj) {
        if (ci == 5 && cj == 7) continue;
        Bytes chunk(kChunkBytes);
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 3; ++j) {
            const float v = static_cast<float>((ci * 4 + i) * 30 + cj * 3 + j);
            std::memcpy(chunk.data() + 4 * (i * 3 + j), &v, 4);
          }
        }
        values_[std::to_string(ci) + "." + std::to_string(cj)] = chunk;
      }
    }
  }

  void GetMany(std::vector<std::string> keys, int, std::shared_ptr<CancelToken>,
               ReadCallback on_read) override {
    auto shared_keys = std::make_shared<std::vector<std::string>>(std::move(keys));
    IoThreadPool::Task task = [this, shared_keys, on_read] {
      for (size_t i = 0; i < shared_keys->size(); ++i) {
        const std::string& key = (*shared_keys)[i];
        Hold(key, /*now=*/false);
        on_read(i, Lookup(key));
      }
    };
    ASSERT_TRUE(io_.TrySubmit(task));
  }

  Result<Outcome> ReadNow(const std::string& key, Bytes& into) override {
    ++read_now_calls_;
    Result<Outcome> answer = policy_(key);
    if (!answer.ok() || *answer != Outcome::kRead) return answer;
    Hold(key, /*now=*/true);
    auto it = values_.find(key);
    if (it == values_.end()) return Outcome::kMissing;
    into.assign(it->second.begin(), it->second.end());
    return Outcome::kRead;
  }

  void Put(std::string, Bytes, WriteCallback done) override { done(Status::Internal("no")); }
  const std::string& url() const override { return url_; }

  // Called by the consumer when a chunk is folded.
  void Released() { held_.fetch_sub(1); }

  std::map<std::string, int> got_now() const {
    MutexLock lock(mu_);
    return got_now_;
  }
  std::map<std::string, int> got_many() const {
    MutexLock lock(mu_);
    return got_many_;
  }
  int read_now_calls() const { return read_now_calls_.load(); }
  int64_t max_held() const { return max_held_.load(); }

 private:
  Result<std::optional<Bytes>> Lookup(const std::string& key) {
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<Bytes>();
    return std::optional<Bytes>(it->second);
  }

  // A chunk was handed out (counted per key unless it is missing); it is held until folded.
  void Hold(const std::string& key, bool now) {
    MutexLock lock(mu_);
    if (values_.count(key)) ++(now ? got_now_ : got_many_)[key];
    const int64_t held = held_.fetch_add(1) + 1;
    if (held > max_held_.load()) max_held_.store(held);
  }

  const Policy policy_;
  std::map<std::string, Bytes> values_;  // constant after construction
  mutable Mutex mu_;
  std::map<std::string, int> got_now_ GUARDED_BY(mu_);
  std::map<std::string, int> got_many_ GUARDED_BY(mu_);
  std::atomic<int64_t> held_{0}, max_held_{0};
  std::atomic<int> read_now_calls_{0};
  const std::string url_ = "fake://";
  IoThreadPool io_;  // last: its threads stop before the rest goes
};

// Sums every chunk's data elements and records which chunks were folded.
struct SumContribution final : ChunkContribution {
  double sum = 0;
};

class SumConsumer final : public ChunkConsumer {
 public:
  SumConsumer(FakeStore& store, std::function<void(int64_t)> on_process)
      : store_(store), on_process_(std::move(on_process)) {}

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    if (on_process_) on_process_(chunk.number);
    auto c = std::make_unique<SumContribution>();
    for (int64_t i = 0; i < chunk.extent[0]; ++i) {
      for (int64_t j = 0; j < chunk.extent[1]; ++j) {
        float v;
        std::memcpy(&v, chunk.data.data() + 4 * (i * 3 + j), 4);
        c->sum += v;
      }
    }
    done(std::unique_ptr<ChunkContribution>(std::move(c)));
  }

  void Fold(int64_t number, ChunkContribution& c) override {
    folded_.insert(number);
    ++folds_;
    sum_ += static_cast<SumContribution&>(c).sum;
    store_.Released();
  }

  nlohmann::json SaveState() const override { return nullptr; }
  Status RestoreState(const nlohmann::json&) override { return Status::Ok(); }
  void Finish(FinishDone done) override {
    done(nlohmann::json{{"folds", folds_}, {"distinct", folded_.size()}, {"sum", sum_}});
  }

 private:
  FakeStore& store_;
  const std::function<void(int64_t)> on_process_;
  std::set<int64_t> folded_;
  int64_t folds_ = 0;
  double sum_ = 0;
};

struct PipelineRun {
  OpOutcome outcome;
  std::shared_ptr<FakeStore> store;
};

PipelineRun RunPipeline(FakeStore::Policy policy, PipelineLimits limits = {},
                        std::function<void(int64_t)> on_process = nullptr,
                        std::shared_ptr<CancelToken> cancel = std::make_shared<CancelToken>()) {
  auto store = std::make_shared<FakeStore>(std::move(policy));
  CodecRegistry codecs;
  RegisterBuiltinCodecs(codecs);
  Result<std::unique_ptr<const Codec>> codec = codecs.Create(TestArray().codec, {4});
  EXPECT_TRUE(codec.ok());
  WorkerPool decode(2, 1024);
  const ArrayMetadata array = TestArray();
  std::promise<OpOutcome> finished;
  ChunkJob job{.store = store,
               .array = array,
               .region = ChunkRegion::All(array),
               .codec = std::make_shared<const ChunkCodecChain>(std::move(*codec)),
               .limits = limits,
               .consumer = std::make_unique<SumConsumer>(*store, std::move(on_process)),
               .cancel = std::move(cancel),
               .resume = std::nullopt,
               .save_checkpoint = [](const ChunkCheckpoint&) {}};
  RunChunkPipeline(std::move(job), decode, 2,
                   [&finished](OpOutcome o) { finished.set_value(std::move(o)); });
  std::future<OpOutcome> f = finished.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "hung";
  PipelineRun run{f.get(), store};
  decode.Stop();
  return run;
}

void ExpectEveryChunkOnce(const PipelineRun& run) {
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  EXPECT_EQ(run.outcome.result["folds"], kChunks);
  EXPECT_EQ(run.outcome.result["distinct"], kChunks);
  EXPECT_EQ(run.outcome.result["sum"].get<double>(), ExpectedSum());
  // Each stored chunk was read successfully exactly once, by one path or the other.
  std::map<std::string, int> reads = run.store->got_now();
  for (const auto& [key, n] : run.store->got_many()) reads[key] += n;
  EXPECT_EQ(reads.size(), static_cast<size_t>(kChunks - 1));
  for (const auto& [key, n] : reads) EXPECT_EQ(n, 1) << key;
}

TEST(ChunkPipelineReadNowTest, ReadsEveryChunkDirectlyWhenTheStoreHasThemAtHand) {
  PipelineRun run = RunPipeline([](const std::string&) { return Outcome::kRead; });
  ExpectEveryChunkOnce(run);
  EXPECT_TRUE(run.store->got_many().empty()) << "nothing should need GetMany";
}

TEST(ChunkPipelineReadNowTest, ChunksNotAtHandGoThroughGetMany) {
  PipelineRun run = RunPipeline([](const std::string& key) {
    return key.back() == '3' || key.back() == '8' ? Outcome::kWouldWait : Outcome::kRead;
  });
  ExpectEveryChunkOnce(run);
  EXPECT_FALSE(run.store->got_many().empty());
  EXPECT_FALSE(run.store->got_now().empty());
}

TEST(ChunkPipelineReadNowTest, DataThatIsNotCachedIsTriedOnlyAFewTimesInARow) {
  PipelineRun run = RunPipeline([](const std::string&) { return Outcome::kWouldWait; });
  ExpectEveryChunkOnce(run);
  EXPECT_TRUE(run.store->got_now().empty());
  // A few misses per decode thread, then GetMany for a stretch longer than the whole array.
  EXPECT_LE(run.store->read_now_calls(), 2 * 4);
}

TEST(ChunkPipelineReadNowTest, AStoreWithoutAFastPathIsAskedAtMostOncePerDecodeThread) {
  PipelineRun run = RunPipeline([](const std::string&) { return Outcome::kUnsupported; });
  ExpectEveryChunkOnce(run);
  EXPECT_TRUE(run.store->got_now().empty());
  EXPECT_LE(run.store->read_now_calls(), 2);
}

TEST(ChunkPipelineReadNowTest, DirectReadsStayWithinTheByteBudget) {
  for (auto policy : std::vector<FakeStore::Policy>{
           [](const std::string&) -> Result<Outcome> { return Outcome::kRead; },
           [](const std::string& key) -> Result<Outcome> {
             return key.back() == '1' ? Outcome::kWouldWait : Outcome::kRead;
           }}) {
    PipelineRun run =
        RunPipeline(policy, {.fetch_concurrency = 8, .bytes_in_flight = 3 * kChunkBytes});
    ExpectEveryChunkOnce(run);
    EXPECT_LE(run.store->max_held(), 3);
  }
}

TEST(ChunkPipelineReadNowTest, AFailedDirectReadFailsTheSessionNamingTheChunk) {
  PipelineRun run = RunPipeline([](const std::string& key) -> Result<Outcome> {
    if (key == "6.2") return Status::IoError("disk on fire");
    return Outcome::kRead;
  });
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error.code(), StatusCode::kIoError);
  EXPECT_EQ(run.outcome.error.message(), "chunk 6.2: disk on fire");
}

TEST(ChunkPipelineReadNowTest, ACancelEndsASessionReadingDirectly) {
  auto cancel = std::make_shared<CancelToken>();
  std::atomic<int> processed{0};
  PipelineRun run = RunPipeline([](const std::string&) { return Outcome::kRead; },
                                {.fetch_concurrency = 4, .bytes_in_flight = 4 * kChunkBytes},
                                [&](int64_t) {
                                  if (++processed == 10)
                                    cancel->Cancel(CancelToken::Reason::kCanceled);
                                },
                                cancel);
  EXPECT_EQ(run.outcome.kind, OpOutcome::Kind::kCanceled);
  EXPECT_LT(processed.load(), kChunks);
}

}  // namespace
}  // namespace batchd::pipeline
