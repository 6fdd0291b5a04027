// The chunk engine on a real file store: every chunk exactly once, the byte budget and the
// reads in flight respected, a lone oversized chunk still passing, resume from a checkpoint
// without fetching done chunks, cancel, errors that name the chunk and keep their kind, and
// checkpoints and live progress paced by the job's clock (stepped by the test, never slept on).
#include "pipeline/engine/chunk_pipeline.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>

#include "pipeline/codecs/codec.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {
namespace {

// A temp dir holding a raw (uncompressed) 2-d uint8 array: one file per chunk, each byte of
// chunk (i, j) is i * 16 + j, so a consumer can tell which chunk it got.
class RawArrayDir {
 public:
  RawArrayDir(std::vector<int64_t> shape, std::vector<int64_t> chunks) {
    char tmpl[] = "/tmp/batchd-pipeline-XXXXXX";
    path_ = mkdtemp(tmpl);
    array_.format = "raw";
    array_.shape = std::move(shape);
    array_.chunk_shape = std::move(chunks);
    array_.dtype = *DataType::FromNumpy("|u1");
    array_.fill_value = 0;
    array_.keys = {.prefix = "", .separator = '.'};
    const std::vector<int64_t> grid = array_.GridShape();
    for (int64_t i = 0; i < grid[0]; ++i) {
      for (int64_t j = 0; j < grid[1]; ++j) {
        std::ofstream(path_ / (std::to_string(i) + "." + std::to_string(j)), std::ios::binary)
            << std::string(array_.ChunkBytes(), static_cast<char>(i * 16 + j));
      }
    }
  }
  ~RawArrayDir() { std::filesystem::remove_all(path_); }

  const std::filesystem::path& path() const { return path_; }
  const ArrayMetadata& array() const { return array_; }

 private:
  std::filesystem::path path_;
  ArrayMetadata array_;
};

// Wraps a store and counts what was asked of it: every key fetched, the most reads in flight,
// and the most chunks ever between the start of their read and their fold (what the byte
// budget bounds).
class CountingStore final : public ChunkStore {
 public:
  explicit CountingStore(std::shared_ptr<ChunkStore> inner) : inner_(std::move(inner)) {}

  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override {
    {
      std::lock_guard lock(mu_);
      for (const std::string& k : keys) fetched_.push_back(k);
      in_pipeline_ += static_cast<int64_t>(keys.size());
      max_in_pipeline_ = std::max(max_in_pipeline_, in_pipeline_);
      reads_ += static_cast<int64_t>(keys.size());
      max_reads_ = std::max(max_reads_, reads_);
    }
    inner_->GetMany(std::move(keys), max_in_flight, std::move(cancel),
                    [this, on_read = std::move(on_read)](size_t i, auto data) {
                      {
                        std::lock_guard lock(mu_);
                        --reads_;
                      }
                      on_read(i, std::move(data));
                    });
  }
  void Put(std::string key, Bytes data, WriteCallback done) override {
    inner_->Put(std::move(key), std::move(data), std::move(done));
  }
  const std::string& url() const override { return inner_->url(); }

  void Folded() {
    std::lock_guard lock(mu_);
    --in_pipeline_;
  }
  std::vector<std::string> fetched() {
    std::lock_guard lock(mu_);
    return fetched_;
  }
  int64_t max_in_pipeline() {
    std::lock_guard lock(mu_);
    return max_in_pipeline_;
  }
  int64_t max_reads() {
    std::lock_guard lock(mu_);
    return max_reads_;
  }

 private:
  std::shared_ptr<ChunkStore> inner_;
  std::mutex mu_;
  std::vector<std::string> fetched_;
  int64_t in_pipeline_ = 0;
  int64_t max_in_pipeline_ = 0;
  int64_t reads_ = 0;  // started, not yet answered
  int64_t max_reads_ = 0;
};

struct Seen final : ChunkContribution {
  int64_t number;
  uint8_t first_byte;
};

// What a RecordingConsumer saw. Shared with the test: the pipeline (and the consumer it owns)
// may be destroyed on its own thread right after reporting its outcome.
struct Record {
  std::vector<int64_t> folded;
  std::vector<uint8_t> bytes;
  nlohmann::json restored;
};

// Records every chunk it folds; its state is the number of chunks folded.
class RecordingConsumer final : public ChunkConsumer {
 public:
  RecordingConsumer(std::shared_ptr<Record> record, CountingStore* store)
      : record_(std::move(record)), store_(store) {}

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    auto s = std::make_unique<Seen>();
    s->number = chunk.number;
    s->first_byte = chunk.data[0];
    done(std::unique_ptr<ChunkContribution>(std::move(s)));
  }
  void Fold(int64_t number, ChunkContribution& c) override {
    record_->folded.push_back(number);
    record_->bytes.push_back(static_cast<Seen&>(c).first_byte);
    if (store_) store_->Folded();
  }
  nlohmann::json SaveState() const override { return {{"folded", record_->folded.size()}}; }
  Status RestoreState(const nlohmann::json& state) override {
    record_->restored = state;
    return Status::Ok();
  }
  void Finish(FinishDone done) override {
    done(nlohmann::json{{"chunks", record_->folded.size()}});
  }

 private:
  std::shared_ptr<Record> record_;
  CountingStore* store_;  // kept alive by the test
};

class ChunkPipelineTest : public ::testing::Test {
 protected:
  ChunkPipelineTest() : dir_({64, 48}, {8, 8}), decode_(2, 1024) {
    RegisterBuiltinCodecs(codecs_);
    RegisterBuiltinStores(stores_, {.file_roots = {dir_.path()}});
  }

  struct Run {
    OpOutcome outcome;
    std::vector<ChunkCheckpoint> checkpoints;
    std::vector<int64_t> reported_done;  // chunks_done of each live progress report
  };

  // The live progress reports of a run, shared with its reporter (it may be called once more
  // after the outcome, by a cancel; the test reads a copy).
  struct Reports {
    std::mutex mu;
    std::vector<int64_t> done;
  };

  // Runs the pipeline over the whole array and waits for its outcome. With `clock`, the job
  // runs on it and its live progress is recorded.
  Run RunPipeline(std::shared_ptr<ChunkStore> store, std::unique_ptr<ChunkConsumer> consumer,
                  PipelineLimits limits, std::optional<ChunkCheckpoint> resume = std::nullopt,
                  std::shared_ptr<CancelToken> cancel = nullptr, SteadyClock clock = nullptr,
                  int decode_threads = 2) {
    auto checkpoints = std::make_shared<std::vector<ChunkCheckpoint>>();
    auto reports = std::make_shared<Reports>();
    auto result = std::make_shared<std::promise<OpOutcome>>();
    ChunkJob job;
    job.store = std::move(store);
    job.array = dir_.array();
    job.region = ChunkRegion::All(dir_.array());
    job.codec = std::make_shared<const ChunkCodecChain>(
        std::shared_ptr<const Codec>(std::move(codecs_.Create({{"id", "raw"}}, {}).value())));
    job.limits = limits;
    job.consumer = std::move(consumer);
    job.cancel = cancel ? cancel : std::make_shared<CancelToken>();
    job.resume = std::move(resume);
    job.save_checkpoint = [checkpoints](const ChunkCheckpoint& cp) { checkpoints->push_back(cp); };
    if (clock) {
      job.clock = std::move(clock);
      job.report_live_progress = [reports](const LiveProgress& p) {
        std::lock_guard lock(reports->mu);
        reports->done.push_back(p.chunks_done);
      };
    }
    RunChunkPipeline(std::move(job), decode_, decode_threads,
                     [result](OpOutcome o) { result->set_value(std::move(o)); });
    OpOutcome outcome = result->get_future().get();
    std::lock_guard lock(reports->mu);
    return {std::move(outcome), *checkpoints, reports->done};
  }

  std::shared_ptr<ChunkStore> FileStore() {
    return *stores_.Open("file://" + dir_.path().string());
  }

  RawArrayDir dir_;  // 8 x 6 = 48 chunks of 64 bytes
  WorkerPool decode_;
  CodecRegistry codecs_;
  StoreRegistry stores_;
};

TEST_F(ChunkPipelineTest, EveryChunkExactlyOnceWithItsOwnData) {
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  Run run =
      RunPipeline(store, std::move(consumer), {.fetch_concurrency = 4, .bytes_in_flight = 1 << 20});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  EXPECT_EQ(run.outcome.result["chunks"], 48);
  std::set<int64_t> numbers(record->folded.begin(), record->folded.end());
  EXPECT_EQ(numbers.size(), 48u);
  for (size_t k = 0; k < record->folded.size(); ++k) {
    const int64_t n = record->folded[k];
    EXPECT_EQ(record->bytes[k], (n / 6) * 16 + n % 6) << "chunk " << n << " got another's bytes";
  }
  EXPECT_EQ(store->fetched().size(), 48u);
  ASSERT_FALSE(run.checkpoints.empty());
  EXPECT_EQ(run.checkpoints.back().cursor.done(), 48) << "the last checkpoint has everything";
}

TEST_F(ChunkPipelineTest, TheByteBudgetBoundsChunksInFlight) {
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  // 64-byte chunks, a budget of 3 chunks, many reads allowed: the budget is what binds.
  Run run =
      RunPipeline(store, std::move(consumer), {.fetch_concurrency = 64, .bytes_in_flight = 192});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  EXPECT_LE(store->max_in_pipeline(), 3);
  EXPECT_EQ(record->folded.size(), 48u);
}

TEST_F(ChunkPipelineTest, ReadsInFlightAreBounded) {
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  Run run =
      RunPipeline(store, std::move(consumer), {.fetch_concurrency = 2, .bytes_in_flight = 1 << 20});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted);
  EXPECT_LE(store->max_reads(), 2);
  EXPECT_GE(store->max_reads(), 1);
}

TEST_F(ChunkPipelineTest, AChunkLargerThanTheBudgetStillPassesAlone) {
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  Run run =
      RunPipeline(store, std::move(consumer), {.fetch_concurrency = 8, .bytes_in_flight = 10});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  EXPECT_EQ(store->max_in_pipeline(), 1);
  EXPECT_EQ(record->folded.size(), 48u);
}

TEST_F(ChunkPipelineTest, ResumeSkipsEveryChunkTheCheckpointHasDone) {
  ChunkCheckpoint resume{ChunkCursor(48), {{"folded", 20}}};
  for (int64_t n = 0; n < 30; ++n) resume.cursor.MarkDone(n);
  resume.cursor.MarkDone(40);
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  Run run = RunPipeline(store, std::move(consumer),
                        {.fetch_concurrency = 8, .bytes_in_flight = 1 << 20}, resume);
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted);
  EXPECT_EQ(record->restored, nlohmann::json({{"folded", 20}}));
  std::set<std::string> fetched;
  for (const std::string& k : store->fetched()) fetched.insert(k);
  EXPECT_EQ(fetched.size(), 17u);
  EXPECT_EQ(store->fetched().size(), 17u) << "nothing fetched twice";
  for (int64_t n = 0; n < 30; ++n) {
    EXPECT_EQ(fetched.count(std::to_string(n / 6) + "." + std::to_string(n % 6)), 0u) << n;
  }
  EXPECT_EQ(run.checkpoints.back().cursor.done(), 48);
}

TEST_F(ChunkPipelineTest, ACanceledRunStopsAndSavesWhereItStood) {
  auto cancel = std::make_shared<CancelToken>();
  cancel->Cancel(CancelToken::Reason::kShutdown);
  auto store = std::make_shared<CountingStore>(FileStore());
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, store.get());
  Run run = RunPipeline(store, std::move(consumer),
                        {.fetch_concurrency = 4, .bytes_in_flight = 1 << 20}, std::nullopt, cancel);
  EXPECT_EQ(run.outcome.kind, OpOutcome::Kind::kCanceled);
  EXPECT_LT(store->fetched().size(), 48u);
  ASSERT_FALSE(run.checkpoints.empty()) << "a stopped run records where it is";
}

TEST_F(ChunkPipelineTest, ACorruptChunkFailsNamingItAndKeepsItsKind) {
  std::filesystem::resize_file(dir_.path() / "3.2", 10);  // raw: the size is wrong
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, nullptr);
  Run run = RunPipeline(FileStore(), std::move(consumer),
                        {.fetch_concurrency = 4, .bytes_in_flight = 1 << 20});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kFailed);
  EXPECT_EQ(run.outcome.error.code(), StatusCode::kCorrupt);
  EXPECT_NE(run.outcome.error.message().find("chunk 3.2"), std::string::npos)
      << run.outcome.error.ToString();
  ASSERT_FALSE(run.checkpoints.empty());
  EXPECT_FALSE(run.checkpoints.back().cursor.IsDone(3 * 6 + 2));
}

TEST_F(ChunkPipelineTest, AMissingChunkReadsAsTheFillValue) {
  std::filesystem::remove(dir_.path() / "1.1");
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, nullptr);
  Run run = RunPipeline(FileStore(), std::move(consumer),
                        {.fetch_concurrency = 4, .bytes_in_flight = 1 << 20});
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted);
  for (size_t k = 0; k < record->folded.size(); ++k) {
    if (record->folded[k] == 7) EXPECT_EQ(record->bytes[k], 0) << "fill_value is 0";
  }
}

// A clock that never moves: no interval ever passes, so the run saves only its final checkpoint
// and reports live progress only at its start (the first report is never held back) and at its
// end (the last is never dropped).
TEST_F(ChunkPipelineTest, OnAClockThatStandsStillOnlyTheFinalCheckpointIsSaved) {
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, nullptr);
  Run run = RunPipeline(FileStore(), std::move(consumer),
                        {.fetch_concurrency = 4, .bytes_in_flight = 192}, std::nullopt, nullptr,
                        [] { return int64_t{0}; });
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  ASSERT_EQ(run.checkpoints.size(), 1u);
  EXPECT_EQ(run.checkpoints[0].cursor.done(), 48);
  EXPECT_EQ(run.reported_done, (std::vector<int64_t>{0, 48}));
}

// A clock that moves a whole checkpoint interval at every reading: a checkpoint is due whenever
// chunks were done, and a live progress report at every step. A budget of 3 chunks makes at least
// 16 steps (each folds at most 3 of the 48 chunks), each reported. One decode task, so the
// checkpoints are taken one after the other on its thread and (but for one overtaken by the
// final) all saved; they reach the store in the order they were taken: the done count never
// goes back.
TEST_F(ChunkPipelineTest, OnAClockPastTheIntervalAtEveryReadingCheckpointsFollowTheChunks) {
  auto now = std::make_shared<std::atomic<int64_t>>(0);
  auto record = std::make_shared<Record>();
  auto consumer = std::make_unique<RecordingConsumer>(record, nullptr);
  Run run = RunPipeline(
      FileStore(), std::move(consumer), {.fetch_concurrency = 4, .bytes_in_flight = 192},
      std::nullopt, nullptr, [now] { return now->fetch_add(1000); }, /*decode_threads=*/1);
  ASSERT_EQ(run.outcome.kind, OpOutcome::Kind::kCompleted) << run.outcome.error.ToString();
  ASSERT_GE(run.checkpoints.size(), 2u);
  for (size_t i = 1; i < run.checkpoints.size(); ++i) {
    EXPECT_LE(run.checkpoints[i - 1].cursor.done(), run.checkpoints[i].cursor.done()) << i;
  }
  EXPECT_LT(run.checkpoints.front().cursor.done(), 48) << "saved before the end";
  EXPECT_EQ(run.checkpoints.back().cursor.done(), 48);
  ASSERT_GE(run.reported_done.size(), 16u);
  EXPECT_EQ(run.reported_done.front(), 0);
  for (size_t i = 1; i < run.reported_done.size(); ++i) {
    EXPECT_LE(run.reported_done[i - 1], run.reported_done[i]) << i;
  }
  EXPECT_EQ(run.reported_done.back(), 48);
}

}  // namespace
}  // namespace batchd::pipeline
