#include "pipeline/engine/chunk_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "pipeline/engine/chunk_pipeline_stats.h"
#include "pipeline/engine/pending_chunks.h"

namespace batchd::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

// Windows of reads: a store gets keys in runs (one file-store task reads a run), and a new run
// starts only when at least this share of fetch_concurrency is free, so a session does not
// call GetMany once per chunk.
constexpr int kWindowDivisor = 4;
constexpr size_t kMaxWindow = 256;
// A decode task handles about this many decoded bytes of its session (at least one chunk, at
// most 4096 chunks), then yields the thread to other sessions' tasks: a few milliseconds.
constexpr int64_t kTurnBytes = 16 << 20;
constexpr int64_t kMaxChunksPerTurn = 4096;
// A decode task takes chunks in batches of about this many decoded bytes (one chunk when they
// are larger): one lock to take a batch and one to fold it, instead of two per chunk, which
// matters for chunks of a few KiB.
constexpr int64_t kBatchBytes = 256 << 10;
constexpr int64_t kMaxBatch = 64;
// A chunk that is not at hand for a direct read (ChunkStore::ReadNow) is read with GetMany.
// A few such chunks in a row mean the data is not cached: then this many chunks go through
// GetMany before direct reads are tried again (each failed try costs an open), and a batch
// stops trying after that many failures. A single chunk the page cache dropped costs nothing
// more than its own GetMany.
constexpr int kMissesInARow = 4;
constexpr size_t kColdStretch = 256;

struct Fetched {
  int64_t number;
  Result<std::optional<Bytes>> data;
};

class Pipeline;

// What a decode thread did with its current batch, folded under one lock at its end.
struct LocalBatch {
  const Pipeline* owner = nullptr;
  struct Outcome {
    int64_t number;
    Status error;
    std::unique_ptr<ChunkContribution> contribution;
  };
  std::vector<Outcome> outcomes;
  std::vector<int64_t> not_at_hand;  // direct reads that would have waited: read with GetMany
  bool direct_unsupported = false;   // the store said it never reads on our thread
  int misses_in_a_row = 0;  // direct reads that would have waited, since the last one that did not
  bool any_read = false;    // a direct read found its chunk at hand
  bool gave_up = false;     // too many misses: the rest of the batch goes to GetMany untried
  int64_t bytes_read = 0;   // encoded bytes of the direct reads, for live progress
};

// The batch the current thread is working on, if any: a consumer that finishes a chunk inside
// Process (stats does) adds it there instead of taking the pipeline's lock.
thread_local LocalBatch* t_batch = nullptr;

// Per decode thread, reused for every chunk of every session: decoded chunks and directly read
// bytes never pile up in memory. Trimmed after a chunk much smaller than what they grew to, so
// one session of huge chunks does not keep its memory for the daemon's life.
constexpr size_t kKeepBufferBytes = 8 << 20;
Bytes& ThreadBuffer(Bytes& buffer, size_t size) {
  if (buffer.capacity() > kKeepBufferBytes && buffer.capacity() > 4 * size) Bytes().swap(buffer);
  buffer.resize(size);
  return buffer;
}

class Pipeline : public std::enable_shared_from_this<Pipeline> {
 public:
  Pipeline(ChunkJob job, WorkerPool& decode, int decode_threads, OpDone done)
      : job_(std::move(job)),
        decode_(decode),
        decode_threads_(std::max(1, decode_threads)),
        done_(std::move(done)),
        chunk_bytes_(static_cast<int64_t>(job_.array.ChunkBytes())),
        min_window_(std::max(1, job_.limits.fetch_concurrency / kWindowDivisor)),
        batch_size_(static_cast<size_t>(
            std::clamp<int64_t>(kBatchBytes / std::max<int64_t>(chunk_bytes_, 1), 1, kMaxBatch))),
        chunks_per_turn_(static_cast<int>(std::clamp<int64_t>(
            kTurnBytes / std::max<int64_t>(chunk_bytes_, 1), 1, kMaxChunksPerTurn))),
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
    todo_ = PendingChunks(cursor_);
    std::weak_ptr<Pipeline> weak = weak_from_this();
    job_.cancel->OnCancel([weak] {
      if (auto self = weak.lock()) self->Stop(Status::Ok());
    });
    GlobalChunkPipelineStats().pipelines_running.Increment();
    Advance(std::unique_lock(mu_));
  }

 private:
  struct Window {
    std::vector<int64_t> numbers;
  };

  // --- budget ---

  // Under mu_: whether one more chunk may start now. A chunk larger than the whole budget
  // still passes, alone.
  bool BudgetAllowsOneMore() const {
    return bytes_reserved_ + chunk_bytes_ <= job_.limits.bytes_in_flight || outstanding_ == 0;
  }

  void Reserve() {
    bytes_reserved_ += chunk_bytes_;
    ++outstanding_;
    GlobalChunkPipelineStats().Reserved(chunk_bytes_);
  }

  // --- fetch: the store's own reads (GetMany) ---

  // Under mu_: where GetMany windows stop taking chunks from todo_. While direct reads work,
  // only the stretch after a chunk that was not at hand goes through GetMany.
  size_t WindowEnd() const {
    return direct_ ? std::min(direct_resume_at_, todo_.size()) : todo_.size();
  }

  // Under mu_: claims the reads the limits allow now, as windows to issue once unlocked.
  // Chunks a direct read could not get come first; they are already reserved.
  std::vector<Window> TakeWindows() {
    std::vector<Window> windows;
    const int concurrency = job_.limits.fetch_concurrency;
    for (;;) {
      const size_t waiting = not_at_hand_.size() + (WindowEnd() > next_ ? WindowEnd() - next_ : 0);
      if (stopped_ || waiting == 0) break;
      const int free_reads = concurrency - reads_in_flight_;
      const bool worth_a_window = free_reads >= min_window_ || reads_in_flight_ == 0 ||
                                  waiting <= static_cast<size_t>(free_reads);
      if (free_reads <= 0 || !worth_a_window) break;
      Window w;
      while (!not_at_hand_.empty() && reads_in_flight_ < concurrency &&
             w.numbers.size() < kMaxWindow) {
        ++reads_in_flight_;
        w.numbers.push_back(not_at_hand_.back());
        not_at_hand_.pop_back();
      }
      while (next_ < WindowEnd() && reads_in_flight_ < concurrency &&
             w.numbers.size() < kMaxWindow && BudgetAllowsOneMore()) {
        Reserve();
        ++reads_in_flight_;
        w.numbers.push_back(todo_.At(next_++));
      }
      if (w.numbers.empty()) break;
      const auto n = static_cast<int64_t>(w.numbers.size());
      GlobalChunkPipelineStats().ReadsIssued(n);
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
      if (data.ok() && data->has_value()) bytes_read_ += static_cast<int64_t>((*data)->size());
      GlobalChunkPipelineStats().ReadAnswered(data.ok() && data->has_value() ? (*data)->size() : 0);
      fetched_.push_back({number, std::move(data)});
      if (decode_tasks_ >= decode_threads_) return;
      ++decode_tasks_;
      ++submitting_;  // see SubmitDecodeTasks
    }
    SubmitDecodeTasks(1);
  }

  // Hands `n` DecodeLoops (already counted in decode_tasks_, and this thread in submitting_,
  // under mu_) to the pool. A running decode task may take every chunk they were started for
  // and end the session before the submits return; the session must not end (and its owner
  // stop the pool) while a thread is still inside the pool, so if it came to its end meanwhile,
  // ending it is left to us. Nothing else: reads are started when chunks finish, not here (a
  // store that answers on the calling thread would otherwise recurse through Issue).
  void SubmitDecodeTasks(int n) {
    for (int i = 0; i < n; ++i) {
      decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
    }
    std::unique_lock lock(mu_);
    if (--submitting_ == 0 && outstanding_ == 0 && AllOut() && !ended_) {
      Advance(std::move(lock));
    }
  }

  // --- decode and process ---

  // Under mu_: direct reads the decode threads may start now, at most `most`.
  size_t DirectReadsAllowed(size_t most) const {
    if (!direct_ || stopped_ || next_ < direct_resume_at_) return 0;
    const int64_t room = (job_.limits.bytes_in_flight - bytes_reserved_) / chunk_bytes_;
    const int64_t allowed = std::max<int64_t>(room, outstanding_ == 0 ? 1 : 0);
    return std::min({most, todo_.size() - next_, static_cast<size_t>(allowed)});
  }

  // A decode task: takes a batch of chunks — read by the store, or to read itself when the
  // store can read them on this thread (ReadNow) — processes it, folds it, and goes on until
  // there is nothing to take.
  void DecodeLoop() {
    std::vector<Fetched> fetched;
    std::vector<int64_t> direct;
    LocalBatch batch;
    batch.owner = this;
    for (int handled = 0;;) {
      if (handled >= chunks_per_turn_) {
        // Give the other sessions' decode tasks a turn on this thread; keep our place.
        decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
        return;
      }
      bool stopped = false;
      {
        std::lock_guard lock(mu_);
        while (!fetched_.empty() && fetched.size() < batch_size_) {
          fetched.push_back(std::move(fetched_.front()));
          fetched_.pop_front();
        }
        if (fetched.empty()) {
          for (size_t n = DirectReadsAllowed(batch_size_); n > 0; --n) {
            Reserve();
            direct.push_back(todo_.At(next_++));
          }
        }
        if (fetched.empty() && direct.empty()) {
          --decode_tasks_;
          return;
        }
        stopped = stopped_;
      }
      t_batch = &batch;
      for (Fetched& f : fetched) {
        if (stopped) {
          Finished(f.number, Status::Ok(), nullptr);  // dropped: not done, redone on resume
        } else if (!f.data.ok()) {
          Finished(f.number, ChunkError(f.number, f.data.status()), nullptr);
        } else {
          const std::optional<Bytes> bytes = std::move(*f.data);
          ProcessOne(f.number, bytes ? std::optional<ByteView>(*bytes) : std::nullopt);
        }
      }
      for (int64_t number : direct) ReadAndProcess(number, batch);
      t_batch = nullptr;
      handled += static_cast<int>(fetched.size() + direct.size());
      fetched.clear();
      direct.clear();
      FlushBatch(batch);
    }
  }

  // One chunk read on this thread, or handed to GetMany when it is not at hand.
  void ReadAndProcess(int64_t number, LocalBatch& batch) {
    if (batch.gave_up) return batch.not_at_hand.push_back(number);
    thread_local std::vector<int64_t> coords;
    coords.resize(static_cast<size_t>(job_.region.rank()));
    job_.region.CoordsOf(number, coords);
    thread_local Bytes encoded;
    ThreadBuffer(encoded, static_cast<size_t>(chunk_bytes_));  // ReadNow resizes it to the value
    Result<ChunkStore::ReadNowOutcome> read =
        job_.store->ReadNow(job_.array.keys.Key(coords), encoded);
    if (!read.ok()) return Finished(number, ChunkError(number, read.status()), nullptr);
    switch (*read) {
      case ChunkStore::ReadNowOutcome::kRead:
        batch.any_read = true;
        batch.misses_in_a_row = 0;
        batch.bytes_read += static_cast<int64_t>(encoded.size());
        return ProcessOne(number, ByteView(encoded));
      case ChunkStore::ReadNowOutcome::kMissing:
        batch.any_read = true;
        batch.misses_in_a_row = 0;
        return ProcessOne(number, std::nullopt);
      case ChunkStore::ReadNowOutcome::kUnsupported:
        batch.direct_unsupported = true;
        batch.gave_up = true;
        return batch.not_at_hand.push_back(number);
      case ChunkStore::ReadNowOutcome::kWouldWait:
        if (++batch.misses_in_a_row >= kMissesInARow) batch.gave_up = true;
        return batch.not_at_hand.push_back(number);
    }
  }

  // Decodes one chunk (nullopt: missing, so the fill value) and hands it to the consumer.
  void ProcessOne(int64_t number, std::optional<ByteView> encoded) {
    thread_local std::vector<int64_t> coords, extent;
    coords.resize(static_cast<size_t>(job_.region.rank()));
    extent.resize(coords.size());
    job_.region.CoordsOf(number, coords);
    ValidExtent(job_.array, coords, extent);
    const std::string key = job_.array.keys.Key(coords);

    thread_local Bytes decoded;
    Bytes& buffer = ThreadBuffer(decoded, static_cast<size_t>(chunk_bytes_));
    const bool missing = !encoded.has_value();
    if (missing) {
      FillChunk(buffer);
    } else {
      Status s = job_.codec->DecodeInto(*encoded, buffer);
      if (!s.ok()) return Finished(number, ChunkError(number, s), nullptr);
      if (job_.consumer->NativeByteOrder() && job_.array.dtype.NeedsSwap()) {
        ByteSwapInPlace(buffer, job_.array.dtype.size);
      }
    }
    DecodedChunk chunk{.number = number,
                       .coords = coords,
                       .extent = extent,
                       .key = &key,
                       .data = buffer,
                       .missing = missing};
    job_.consumer->Process(
        chunk, [self = shared_from_this(), number](Result<std::unique_ptr<ChunkContribution>> r) {
          if (!r.ok()) return self->Finished(number, self->ChunkError(number, r.status()), nullptr);
          self->Finished(number, Status::Ok(), std::move(*r));
        });
  }

  // "chunk 3.1: <what went wrong>", keeping the status code.
  Status ChunkError(int64_t number, const Status& s) const {
    std::vector<int64_t> coords(static_cast<size_t>(job_.region.rank()));
    job_.region.CoordsOf(number, coords);
    return Status(s.code(), "chunk " + job_.array.keys.Key(coords) + ": " + s.message());
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
  // or dropped (stopped) when neither. On a decode thread working on a batch of this pipeline
  // it joins the batch; otherwise (a consumer finishing later, on another thread) it is folded
  // at once.
  void Finished(int64_t number, const Status& error,
                std::unique_ptr<ChunkContribution> contribution) {
    if (t_batch != nullptr && t_batch->owner == this) {
      t_batch->outcomes.push_back({number, error, std::move(contribution)});
      return;
    }
    std::unique_lock lock(mu_);
    Apply(number, error, contribution.get());
    Advance(std::move(lock));
  }

  void FlushBatch(LocalBatch& batch) {
    std::unique_lock lock(mu_);
    for (LocalBatch::Outcome& o : batch.outcomes) Apply(o.number, o.error, o.contribution.get());
    if (batch.direct_unsupported) direct_ = false;
    bytes_read_ += batch.bytes_read;
    if (batch.bytes_read > 0) GlobalChunkPipelineStats().ReadDirectly(batch.bytes_read);
    // Misses in a row carry over from batch to batch (a batch is one chunk when they are large).
    misses_in_a_row_ =
        batch.any_read ? batch.misses_in_a_row : misses_in_a_row_ + batch.misses_in_a_row;
    if (misses_in_a_row_ >= kMissesInARow) {
      direct_resume_at_ = next_ + kColdStretch;  // the data is not cached: GetMany for a while
      misses_in_a_row_ = 0;
    }
    if (stopped_) {
      for (int64_t n : batch.not_at_hand) Apply(n, Status::Ok(), nullptr);
    } else {  // read with GetMany; they stay reserved
      not_at_hand_.insert(not_at_hand_.end(), batch.not_at_hand.rbegin(), batch.not_at_hand.rend());
    }
    batch.outcomes.clear();
    batch.not_at_hand.clear();
    batch.misses_in_a_row = 0;
    batch.any_read = false;
    batch.bytes_read = 0;
    batch.gave_up = false;
    batch.direct_unsupported = false;
    Advance(std::move(lock));
  }

  // Under mu_: one chunk's outcome.
  void Apply(int64_t number, const Status& error, ChunkContribution* contribution) {
    --outstanding_;
    bytes_reserved_ -= chunk_bytes_;
    using End = ChunkPipelineStats::ChunkEnd;
    GlobalChunkPipelineStats().ChunkLeft(
        !error.ok() ? End::kFailed : (contribution && !stopped_ ? End::kDone : End::kDropped),
        chunk_bytes_);
    if (!error.ok()) {
      if (error_.ok()) error_ = error;
      stopped_ = true;
    } else if (contribution && !stopped_) {
      job_.consumer->Fold(number, *contribution);
      cursor_.MarkDone(number);
    }
  }

  void Stop(const Status& error) {
    std::unique_lock lock(mu_);
    if (!error.ok() && error_.ok()) error_ = error;
    stopped_ = true;
    Advance(std::move(lock));
  }

  // Under mu_: no chunk is left to start (all started, or the session stopped).
  bool AllOut() const { return stopped_ || (next_ == todo_.size() && not_at_hand_.empty()); }

  // Takes the next step with the lock held, and does the slow parts after releasing it:
  // starting reads and decode tasks, saving a checkpoint, ending the session.
  void Advance(std::unique_lock<std::mutex> lock) {
    std::vector<Window> windows = TakeWindows();
    if (stopped_) {  // what waited for a window will not be read
      for (int64_t n : not_at_hand_) Apply(n, Status::Ok(), nullptr);
      not_at_hand_.clear();
    }
    // A decode task per batch of direct reads there is room for, up to one per thread.
    const size_t direct = DirectReadsAllowed(todo_.size());
    const int spawn = static_cast<int>(
        std::min<size_t>(static_cast<size_t>(std::max(0, decode_threads_ - decode_tasks_)),
                         (direct + batch_size_ - 1) / batch_size_));
    decode_tasks_ += spawn;
    if (spawn > 0) ++submitting_;  // see SubmitDecodeTasks
    const bool end = AllOut() && outstanding_ == 0 && submitting_ == 0 && !ended_;
    if (end) ended_ = true;
    if (end) GlobalChunkPipelineStats().pipelines_running.Add(-1);
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
    if (job_.report_progress &&
        (end || now - last_report_ >= std::chrono::milliseconds(kProgressIntervalMs))) {
      last_report_ = now;
      job_.report_progress({.chunks_done = cursor_.done(),
                            .chunks_total = cursor_.total(),
                            .bytes_done = bytes_read_,
                            .done = &cursor_});
    }
    const bool completed = end && error_.ok() && !stopped_;
    const Status error = error_;
    lock.unlock();

    if (spawn > 0) SubmitDecodeTasks(spawn);
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
  const size_t batch_size_;    // chunks a decode task takes at once
  const int chunks_per_turn_;  // chunks a decode task handles before it yields its thread

  std::mutex save_mu_;
  uint64_t saved_seq_ = 0;  // guarded by save_mu_
  std::mutex mu_;
  PendingChunks todo_;           // chunk numbers not done at the start, in order (const after)
  size_t next_ = 0;              // guarded by mu_: next todo_ entry to start
  int reads_in_flight_ = 0;      // guarded by mu_: GetMany keys not yet reported
  int64_t bytes_reserved_ = 0;   // guarded by mu_: chunk_bytes_ per outstanding chunk
  int64_t outstanding_ = 0;      // guarded by mu_: started (read or claimed), not yet Finished
  std::deque<Fetched> fetched_;  // guarded by mu_: read by the store, waiting for a decode task
  int decode_tasks_ = 0;         // guarded by mu_: DecodeLoops queued or running
  int submitting_ = 0;           // guarded by mu_: threads inside SubmitDecodeTasks
  // Guarded by mu_: whether the store may read on decode threads (ChunkStore::ReadNow), and the
  // todo_ index from which it may again after a chunk was not at hand.
  bool direct_ = true;
  size_t direct_resume_at_ = 0;
  std::vector<int64_t> not_at_hand_;   // guarded by mu_: reserved, to read with GetMany
  int misses_in_a_row_ = 0;            // guarded by mu_: direct reads not at hand, in a row
  bool stopped_ = false;               // guarded by mu_: canceled or failed; no new reads
  bool ended_ = false;                 // guarded by mu_: done_ has been (or is being) called
  Status error_;                       // guarded by mu_: the first chunk error
  ProgressCursor cursor_;              // guarded by mu_
  int64_t checkpointed_done_ = 0;      // guarded by mu_
  uint64_t checkpoint_seq_ = 0;        // guarded by mu_
  Clock::time_point last_report_;      // guarded by mu_: the last live progress report
  int64_t bytes_read_ = 0;             // guarded by mu_: encoded bytes read by this run
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
