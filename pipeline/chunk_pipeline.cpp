#include "pipeline/chunk_pipeline.h"

#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

namespace batchd::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

// Windows of reads: a store gets keys in runs (one file-store task reads a run), and a new run
// starts only when at least this share of fetch_concurrency is free, so a session does not
// call GetMany once per chunk.
constexpr int kWindowDivisor = 4;
constexpr size_t kMaxWindow = 256;
// A decode task handles this many chunks of its session, then yields the thread.
constexpr int kChunksPerTurn = 64;

struct Fetched {
  int64_t number;
  Result<std::optional<Bytes>> data;
};

class Pipeline : public std::enable_shared_from_this<Pipeline> {
 public:
  Pipeline(ChunkJob job, WorkerPool& decode, int decode_threads, OpDone done)
      : job_(std::move(job)),
        decode_(decode),
        decode_threads_(std::max(1, decode_threads)),
        done_(std::move(done)),
        chunk_bytes_(static_cast<int64_t>(job_.array.ChunkBytes())),
        min_window_(std::max(1, job_.limits.fetch_concurrency / kWindowDivisor)),
        cursor_(job_.region.size()),
        last_checkpoint_(Clock::now()) {}

  void Start() {
    if (job_.resume) {
      cursor_ = std::move(job_.resume->cursor);
      if (Status s = job_.consumer->RestoreState(job_.resume->op_state); !s.ok()) {
        return done_(OpOutcome::Failed(
            Status::Internal("the session's checkpoint does not restore: " + s.message())));
      }
    }
    for (int64_t n = 0; n < job_.region.size(); ++n) {
      if (!cursor_.IsDone(n)) todo_.push_back(n);
    }
    std::weak_ptr<Pipeline> weak = weak_from_this();
    job_.cancel->OnCancel([weak] {
      if (auto self = weak.lock()) self->Stop(Status::Ok());
    });
    Advance(std::unique_lock(mu_));
  }

 private:
  struct Window {
    std::vector<int64_t> numbers;
  };

  // --- fetch ---

  // Under mu_: claims the reads the limits allow now, as windows to issue once unlocked.
  std::vector<Window> TakeWindows() {
    std::vector<Window> windows;
    const int concurrency = job_.limits.fetch_concurrency;
    while (!stopped_ && next_ < todo_.size()) {
      const int free_reads = concurrency - reads_in_flight_;
      const bool worth_a_window = free_reads >= min_window_ || reads_in_flight_ == 0 ||
                                  todo_.size() - next_ <= static_cast<size_t>(free_reads);
      if (free_reads <= 0 || !worth_a_window) break;
      Window w;
      while (next_ < todo_.size() && reads_in_flight_ < concurrency &&
             w.numbers.size() < kMaxWindow) {
        // A chunk larger than the whole budget still passes, alone.
        if (bytes_reserved_ + chunk_bytes_ > job_.limits.bytes_in_flight && outstanding_ > 0) break;
        bytes_reserved_ += chunk_bytes_;
        ++reads_in_flight_;
        ++outstanding_;
        w.numbers.push_back(todo_[next_++]);
      }
      if (w.numbers.empty()) break;
      windows.push_back(std::move(w));
    }
    return windows;
  }

  void Issue(Window window) {
    std::vector<std::string> keys;
    keys.reserve(window.numbers.size());
    std::vector<int64_t> coords(static_cast<size_t>(job_.region.rank()));
    for (int64_t n : window.numbers) {
      job_.region.CoordsOf(n, coords);
      keys.push_back(job_.array.keys.Key(coords));
    }
    auto numbers = std::make_shared<const std::vector<int64_t>>(std::move(window.numbers));
    const int in_flight = static_cast<int>(numbers->size());
    job_.store->GetMany(std::move(keys), in_flight, job_.cancel,
                        [self = shared_from_this(), numbers](size_t i, auto data) {
                          self->OnRead((*numbers)[i], std::move(data));
                        });
  }

  void OnRead(int64_t number, Result<std::optional<Bytes>> data) {
    {
      std::lock_guard lock(mu_);
      --reads_in_flight_;
      fetched_.push_back({number, std::move(data)});
      if (decode_tasks_ >= decode_threads_) return;
      ++decode_tasks_;
      // A running decode task may take this chunk and end the session before the submit below
      // returns; the session must not end (and its owner stop the pool) while a store thread
      // is still inside the pool.
      ++submitting_;
    }
    decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
    std::unique_lock lock(mu_);
    // If the session's last chunk was finished while we were inside the pool, ending it is
    // left to us. Nothing else: reads are started when chunks finish, not here (a store that
    // answers on the calling thread would otherwise recurse through Issue).
    if (--submitting_ == 0 && outstanding_ == 0 && (stopped_ || next_ == todo_.size()) && !ended_) {
      Advance(std::move(lock));
    }
  }

  // --- decode and process ---

  void DecodeLoop() {
    for (int turn = 0;; ++turn) {
      if (turn == kChunksPerTurn) {
        // Give the other sessions' decode tasks a turn on this thread; keep our place.
        decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
        return;
      }
      std::optional<Fetched> f;
      bool stopped = false;
      {
        std::lock_guard lock(mu_);
        if (fetched_.empty()) {
          --decode_tasks_;
          return;
        }
        f.emplace(std::move(fetched_.front()));
        fetched_.pop_front();
        stopped = stopped_;
      }
      if (stopped) {
        Finished(f->number, Status::Ok(), nullptr);  // dropped: not done, redone on resume
        continue;
      }
      ProcessOne(std::move(*f));
    }
  }

  void ProcessOne(Fetched f) {
    std::vector<int64_t> coords(static_cast<size_t>(job_.region.rank()));
    std::vector<int64_t> extent(coords.size());
    job_.region.CoordsOf(f.number, coords);
    ValidExtent(job_.array, coords, extent);
    const std::string key = job_.array.keys.Key(coords);
    auto chunk_error = [&](const Status& s) {
      return Status(s.code(), "chunk " + key + ": " + s.message());
    };
    if (!f.data.ok()) return Finished(f.number, chunk_error(f.data.status()), nullptr);

    // One decode buffer per thread, reused: decoded chunks never pile up in memory.
    thread_local Bytes buffer;
    buffer.resize(static_cast<size_t>(chunk_bytes_));
    const bool missing = !f.data->has_value();
    if (missing) {
      FillChunk(buffer);
    } else {
      Status s = job_.codec->DecodeInto(**f.data, buffer);
      f.data = std::optional<Bytes>();  // the encoded bytes are not needed any more
      if (!s.ok()) return Finished(f.number, chunk_error(s), nullptr);
      if (job_.consumer->NativeByteOrder() && job_.array.dtype.NeedsSwap()) {
        ByteSwapInPlace(buffer, job_.array.dtype.size);
      }
    }
    DecodedChunk chunk{.number = f.number,
                       .coords = coords,
                       .extent = extent,
                       .key = &key,
                       .data = buffer,
                       .missing = missing};
    job_.consumer->Process(chunk, [self = shared_from_this(), number = f.number,
                                   key](Result<std::unique_ptr<ChunkContribution>> r) {
      if (!r.ok()) {
        return self->Finished(
            number, Status(r.status().code(), "chunk " + key + ": " + r.status().message()),
            nullptr);
      }
      self->Finished(number, Status::Ok(), std::move(*r));
    });
  }

  // A missing chunk reads as fill_value, in the byte order the consumer wants.
  void FillChunk(Bytes& buffer) {
    std::array<uint8_t, 8> element = *job_.array.FillElement();  // validated at prepare
    const int size = job_.array.dtype.size;
    if (!job_.consumer->NativeByteOrder() && job_.array.dtype.NeedsSwap()) {
      ByteSwapInPlace(MutableByteView(element.data(), static_cast<size_t>(size)), size);
    }
    for (size_t i = 0; i < buffer.size(); i += static_cast<size_t>(size)) {
      std::memcpy(buffer.data() + i, element.data(), static_cast<size_t>(size));
    }
  }

  // --- bookkeeping ---

  // A chunk left the pipeline: folded when `contribution` is set, failed when `error` is set,
  // or dropped (stopped) when neither.
  void Finished(int64_t number, const Status& error,
                std::unique_ptr<ChunkContribution> contribution) {
    std::unique_lock lock(mu_);
    --outstanding_;
    bytes_reserved_ -= chunk_bytes_;
    if (!error.ok()) {
      if (error_.ok()) error_ = error;
      stopped_ = true;
    } else if (contribution && !stopped_) {
      job_.consumer->Fold(number, *contribution);
      cursor_.MarkDone(number);
    }
    Advance(std::move(lock));
  }

  void Stop(const Status& error) {
    std::unique_lock lock(mu_);
    if (!error.ok() && error_.ok()) error_ = error;
    stopped_ = true;
    Advance(std::move(lock));
  }

  // Takes the next step with the lock held, and does the slow parts after releasing it:
  // starting reads, saving a checkpoint, ending the session.
  void Advance(std::unique_lock<std::mutex> lock) {
    std::vector<Window> windows = TakeWindows();
    const bool all_out = stopped_ || next_ == todo_.size();
    const bool end = all_out && outstanding_ == 0 && submitting_ == 0 && !ended_;
    if (end) ended_ = true;
    std::optional<ChunkCheckpoint> checkpoint;
    uint64_t checkpoint_seq = 0;
    const auto now = Clock::now();
    if (end ||
        (cursor_.done() > checkpointed_done_ &&
         now - last_checkpoint_ >= std::chrono::milliseconds(job_.limits.checkpoint_interval_ms))) {
      checkpoint = ChunkCheckpoint{cursor_, job_.consumer->SaveState()};
      checkpoint_seq = ++checkpoint_seq_;
      checkpointed_done_ = cursor_.done();
      last_checkpoint_ = now;
    }
    const bool completed = end && error_.ok() && !stopped_;
    const Status error = error_;
    lock.unlock();

    for (Window& w : windows) Issue(std::move(w));
    if (checkpoint) SaveCheckpoint(*checkpoint, checkpoint_seq);
    if (!end) return;
    if (!completed) {
      return done_(error.ok() ? OpOutcome::Canceled() : OpOutcome::Failed(error));
    }
    job_.consumer->Finish([self = shared_from_this()](Result<nlohmann::json> result) {
      self->done_(result.ok() ? OpOutcome::Completed(std::move(*result))
                              : OpOutcome::Failed(result.status()));
    });
  }

  // Checkpoints are saved in order and never concurrently (the contract of save_checkpoint).
  // Two threads may take checkpoints one after the other and reach here in the opposite
  // order; the older one is then stale and skipped.
  void SaveCheckpoint(const ChunkCheckpoint& checkpoint, uint64_t seq) {
    std::lock_guard lock(save_mu_);
    if (seq <= saved_seq_) return;
    saved_seq_ = seq;
    job_.save_checkpoint(checkpoint);
  }

  ChunkJob job_;
  WorkerPool& decode_;
  const int decode_threads_;
  const OpDone done_;
  const int64_t chunk_bytes_;
  const int min_window_;

  std::mutex save_mu_;
  uint64_t saved_seq_ = 0;  // guarded by save_mu_
  std::mutex mu_;
  std::vector<int64_t> todo_;      // chunk numbers not done at the start, in order (const after)
  size_t next_ = 0;                // guarded by mu_: next todo_ entry to read
  int reads_in_flight_ = 0;        // guarded by mu_
  int64_t bytes_reserved_ = 0;     // guarded by mu_: chunk_bytes_ per outstanding chunk
  int64_t outstanding_ = 0;        // guarded by mu_: read started, not yet Finished
  std::deque<Fetched> fetched_;    // guarded by mu_: read, waiting for a decode thread
  int decode_tasks_ = 0;           // guarded by mu_: DecodeLoops queued or running
  int submitting_ = 0;             // guarded by mu_: store threads inside decode_.SubmitAlways
  bool stopped_ = false;           // guarded by mu_: canceled or failed; no new reads
  bool ended_ = false;             // guarded by mu_: done_ has been (or is being) called
  Status error_;                   // guarded by mu_: the first chunk error
  ProgressCursor cursor_;          // guarded by mu_
  int64_t checkpointed_done_ = 0;  // guarded by mu_
  uint64_t checkpoint_seq_ = 0;    // guarded by mu_
  Clock::time_point last_checkpoint_;  // guarded by mu_
};

}  // namespace

nlohmann::json ChunkCheckpoint::ToJson() const {
  return {{"done", cursor.ToJson()}, {"op", op_state}};
}

Result<ChunkCheckpoint> ChunkCheckpoint::FromJson(const nlohmann::json& json, int64_t total) {
  if (!json.is_object() || !json.contains("done")) {
    return Status::InvalidArgument("a checkpoint is {\"done\", \"op\"}");
  }
  ASSIGN_OR_RETURN(ProgressCursor cursor, ProgressCursor::FromJson(json["done"], total));
  return ChunkCheckpoint{std::move(cursor), json.value("op", nlohmann::json())};
}

void RunChunkPipeline(ChunkJob job, WorkerPool& decode, int decode_threads, OpDone done) {
  auto pipeline =
      std::make_shared<Pipeline>(std::move(job), decode, decode_threads, std::move(done));
  pipeline->Start();
}

}  // namespace batchd::pipeline
