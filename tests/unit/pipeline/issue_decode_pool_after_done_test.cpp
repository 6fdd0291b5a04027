// Regression (found by ThreadSanitizer in the integration run: a race on the decode pool's
// condition variable while the daemon destroyed it): a store thread delivering a read released
// the pipeline's lock, then submitted a decode task. A decode task already running could take
// that chunk and end the session in between, so `done` came while the store thread was still
// inside decode.SubmitAlways, and the daemon, stopping, destroyed the pool under it. The pipeline
// now ends only once no store thread is inside the pool.
//
// The window is a few instructions wide, so this test makes it likely rather than certain: many
// short sessions whose reads all complete at once on their own threads, each with a pool that is
// destroyed the moment `done` arrives. ASan and TSan (CI runs the unit tests under both) turn a
// late submit into a report; a Release build can only crash.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "pipeline/engine/chunk_pipeline.h"

namespace batchd::pipeline {
namespace {

// Answers each GetMany's keys at once, each on its own thread.
class ThreadPerReadStore final : public ChunkStore {
 public:
  ~ThreadPerReadStore() override { Join(); }

  void GetMany(std::vector<std::string> keys, int, std::shared_ptr<CancelToken>,
               ReadCallback on_read) override {
    MutexLock lock(mu_);
    for (size_t i = 0; i < keys.size(); ++i) {
      threads_.emplace_back([i, on_read] { on_read(i, std::optional<Bytes>(Bytes(16, 7))); });
    }
  }
  void Put(std::string, Bytes, WriteCallback done) override { done(Status::Ok()); }
  const std::string& url() const override { return url_; }

  void Join() {
    std::vector<std::thread> threads;
    {
      MutexLock lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  const std::string url_ = "memory://threads";
  Mutex mu_;
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
};

class CountingConsumer final : public ChunkConsumer {
 public:
  void Process(const DecodedChunk&, ProcessDone done) override {
    done(std::unique_ptr<ChunkContribution>(std::make_unique<ChunkContribution>()));
  }
  void Fold(int64_t, ChunkContribution&) override { ++folded_; }
  nlohmann::json SaveState() const override { return folded_; }
  Status RestoreState(const nlohmann::json&) override { return Status::Ok(); }
  void Finish(FinishDone done) override { done(nlohmann::json(folded_)); }

 private:
  int64_t folded_ = 0;
};

TEST(IssueDecodePoolAfterDoneTest, PoolMayBeDestroyedAsSoonAsDoneIsCalled) {
  CodecRegistry codecs;
  RegisterBuiltinCodecs(codecs);
  ArrayMetadata array;
  array.format = "raw";
  array.shape = {8, 16};
  array.chunk_shape = {1, 16};
  array.dtype = *DataType::FromNumpy("|u1");
  array.fill_value = 0;
  auto codec = std::make_shared<const ChunkCodecChain>(
      std::shared_ptr<const Codec>(codecs.Create({{"id", "raw"}}, {}).value()));

  for (int session = 0; session < 200; ++session) {
    auto store = std::make_shared<ThreadPerReadStore>();
    auto decode = std::make_unique<WorkerPool>(4, 1024);
    std::promise<OpOutcome> outcome;
    RunChunkPipeline(ChunkJob{.store = store,
                              .array = array,
                              .region = ChunkRegion::All(array),
                              .codec = codec,
                              .limits = {.fetch_concurrency = 8},
                              .consumer = std::make_unique<CountingConsumer>(),
                              .cancel = std::make_shared<CancelToken>(),
                              .resume = std::nullopt,
                              .save_checkpoint = [](const ChunkCheckpoint&) {}},
                     *decode, 4, [&outcome](OpOutcome o) { outcome.set_value(std::move(o)); });
    const OpOutcome o = outcome.get_future().get();
    ASSERT_EQ(o.kind, OpOutcome::Kind::kCompleted) << o.error.ToString();
    EXPECT_EQ(o.result, 8);
    // What the daemon does at shutdown once every session is done.
    decode->Stop();
    decode.reset();
    store->Join();
  }
}

}  // namespace
}  // namespace batchd::pipeline
