#include "pipeline/engine/chunk_pipeline.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "core/interval_throttle.h"
#include "core/live_progress_interval.h"
#include "core/mutex.h"
#include "pipeline/engine/byte_budget.h"
#include "pipeline/engine/checkpoint_timer.h"
#include "pipeline/engine/chunk_pipeline_stats.h"
#include "pipeline/engine/decode_batch.h"
#include "pipeline/engine/decode_tasks.h"
#include "pipeline/engine/direct_read_policy.h"
#include "pipeline/engine/pending_chunks.h"

namespace batchd::pipeline {
namespace {

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

struct Fetched {
  int64_t number;
  Result<std::optional<Bytes>> data;
};

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
        done_(std::move(done)),
        chunk_bytes_(static_cast<int64_t>(job_.array.ChunkBytes())),
        min_window_(std::max(1, job_.limits.fetch_concurrency / kWindowDivisor)),
        batch_size_(static_cast<size_t>(
            std::clamp<int64_t>(kBatchBytes / std::max<int64_t>(chunk_bytes_, 1), 1, kMaxBatch))),
        chunks_per_turn_(static_cast<int>(std::clamp<int64_t>(
            kTurnBytes / std::max<int64_t>(chunk_bytes_, 1), 1, kMaxChunksPerTurn))),
        budget_(job_.limits.bytes_in_flight),
        decode_tasks_(std::max(1, decode_threads)),
        cursor_(job_.region.size()),
        checkpoint_timer_(job_.limits.checkpoint_interval_ms, job_.clock),
        progress_throttle_(kLiveProgressIntervalMs, job_.clock) {}

  void Start() {
    // Nothing else runs yet; the lock is for the analysis, which cannot know that.
    mu_.Lock();
    if (job_.resume) {
      cursor_ = std::move(job_.resume->cursor);
      if (Status s = job_.consumer->RestoreState(job_.resume->op_state); !s.ok()) {
        mu_.Unlock();
        return done_(OpOutcome::Failed(
            Status::Internal("the session's checkpoint does not restore: " + s.message())));
      }
    }
    todo_ = PendingChunks(cursor_);
    mu_.Unlock();
    std::weak_ptr<Pipeline> weak = weak_from_this();
    job_.cancel->OnCancel([weak] {
      if (auto self = weak.lock()) self->Stop(Status::Ok());
    });
    GlobalChunkPipelineStats().pipelines_running.Increment();
    mu_.Lock();
    Advance();
  }

 private:
  struct Window {
    std::vector<int64_t> numbers;
  };

  // --- budget (ByteBudget: each chunk holds chunk_bytes_ from when it is taken until it leaves)

  // Takes one chunk's reservation if the budget has room for it.
  bool TryReserve() REQUIRES(mu_) {
    if (!budget_.TryReserve(chunk_bytes_)) return false;
    GlobalChunkPipelineStats().Reserved(chunk_bytes_);
    return true;
  }

  // Takes one chunk's reservation that Fitting counted.
  void Reserve() REQUIRES(mu_) {
    budget_.Reserve(chunk_bytes_);
    GlobalChunkPipelineStats().Reserved(chunk_bytes_);
  }

  // --- fetch: the store's own reads (GetMany) ---

  // Claims the reads the limits allow now, as windows to issue once unlocked.
  // Chunks a direct read could not get come first; they are already reserved. While direct
  // reads work, only the stretch after a chunk that was not at hand goes through GetMany
  // (DirectReadPolicy::WindowEnd).
  std::vector<Window> TakeWindows() REQUIRES(mu_) {
    std::vector<Window> windows;
    const int concurrency = job_.limits.fetch_concurrency;
    for (;;) {
      const size_t end = direct_reads_.WindowEnd(todo_.size());
      const size_t waiting = not_at_hand_.size() + (end > next_ ? end - next_ : 0);
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
      while (next_ < end && reads_in_flight_ < concurrency && w.numbers.size() < kMaxWindow &&
             TryReserve()) {
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
    DecodeTasks::Claim claim;
    {
      MutexLock lock(mu_);
      --reads_in_flight_;
      if (data.ok() && data->has_value()) bytes_read_ += static_cast<int64_t>((*data)->size());
      GlobalChunkPipelineStats().ReadAnswered(data.ok() && data->has_value() ? (*data)->size() : 0);
      fetched_.push_back({number, std::move(data)});
      claim = decode_tasks_.ClaimUpTo(1);
      if (!claim) return;  // the session's decode tasks are all out: one will take it
    }
    SubmitDecodeTasks(std::move(claim));
  }

  // Hands the claim's DecodeLoops to the pool (see DecodeTasks: the session does not end while
  // a claim is out, and if it came to its end meanwhile, ending it is left to us). Nothing else:
  // reads are started when chunks finish, not here (a store that answers on the calling thread
  // would otherwise recurse through Issue).
  void SubmitDecodeTasks(DecodeTasks::Claim claim) {
    for (int i = 0; i < claim.tasks(); ++i) {
      decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
    }
    mu_.Lock();
    if (decode_tasks_.Submitted(std::move(claim)) && budget_.empty() && AllOut() && !ended_) {
      Advance();
    } else {
      mu_.Unlock();
    }
  }

  // --- decode and process ---

  // Direct reads the decode threads may start now, at most `most`.
  size_t DirectReadsAllowed(size_t most) const REQUIRES(mu_) {
    if (stopped_ || !direct_reads_.AllowsAt(next_)) return 0;
    return std::min(
        {most, todo_.size() - next_, static_cast<size_t>(budget_.Fitting(chunk_bytes_))});
  }

  // A decode task: takes a batch of chunks — read by the store, or to read itself when the
  // store can read them on this thread (ReadNow) — processes it, folds it, and goes on until
  // there is nothing to take.
  void DecodeLoop() {
    std::vector<Fetched> fetched;
    std::vector<int64_t> direct;
    DecodeBatch batch(this);
    for (int handled = 0;;) {
      if (handled >= chunks_per_turn_) {
        // Give the other sessions' decode tasks a turn on this thread; keep our place.
        decode_.SubmitAlways([self = shared_from_this()] { self->DecodeLoop(); });
        return;
      }
      bool stopped = false;
      {
        MutexLock lock(mu_);
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
          decode_tasks_.TaskEnded();
          return;
        }
        stopped = stopped_;
      }
      {
        DecodeBatch::Scope scope(batch);
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
      }
      handled += static_cast<int>(fetched.size() + direct.size());
      fetched.clear();
      direct.clear();
      FlushBatch(batch);
    }
  }

  // One chunk read on this thread, or handed to GetMany when it is not at hand.
  void ReadAndProcess(int64_t number, DecodeBatch& batch) {
    if (!batch.tries.worth_trying()) return batch.not_at_hand.push_back(number);
    thread_local std::vector<int64_t> coords;
    coords.resize(static_cast<size_t>(job_.region.rank()));
    job_.region.CoordsOf(number, coords);
    thread_local Bytes encoded;
    ThreadBuffer(encoded, static_cast<size_t>(chunk_bytes_));  // ReadNow resizes it to the value
    Result<ChunkStore::ReadNowOutcome> read =
        job_.store->ReadNow(job_.array.keys.Key(coords), encoded);
    if (!read.ok()) return Finished(number, ChunkError(number, read.status()), nullptr);
    batch.tries.Record(*read);
    switch (*read) {
      case ChunkStore::ReadNowOutcome::kRead:
        batch.bytes_read += static_cast<int64_t>(encoded.size());
        return ProcessOne(number, ByteView(encoded));
      case ChunkStore::ReadNowOutcome::kMissing:
        return ProcessOne(number, std::nullopt);
      case ChunkStore::ReadNowOutcome::kUnsupported:
      case ChunkStore::ReadNowOutcome::kWouldWait:
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
    if (DecodeBatch* batch = DecodeBatch::Current(this)) {
      batch->outcomes.push_back({number, error, std::move(contribution)});
      return;
    }
    mu_.Lock();
    Apply(number, error, contribution.get());
    Advance();
  }

  void FlushBatch(DecodeBatch& batch) {
    mu_.Lock();
    for (DecodeBatch::Outcome& o : batch.outcomes) Apply(o.number, o.error, o.contribution.get());
    direct_reads_.EndBatch(batch.tries, next_);
    bytes_read_ += batch.bytes_read;
    if (batch.bytes_read > 0) GlobalChunkPipelineStats().ReadDirectly(batch.bytes_read);
    if (stopped_) {
      for (int64_t n : batch.not_at_hand) Apply(n, Status::Ok(), nullptr);
    } else {  // read with GetMany; they stay reserved
      not_at_hand_.insert(not_at_hand_.end(), batch.not_at_hand.rbegin(), batch.not_at_hand.rend());
    }
    batch.Clear();
    Advance();
  }

  // One chunk's outcome.
  void Apply(int64_t number, const Status& error, ChunkContribution* contribution) REQUIRES(mu_) {
    budget_.Release(chunk_bytes_);
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
    mu_.Lock();
    if (!error.ok() && error_.ok()) error_ = error;
    stopped_ = true;
    Advance();
  }

  // No chunk is left to start (all started, or the session stopped).
  bool AllOut() const REQUIRES(mu_) {
    return stopped_ || (next_ == todo_.size() && not_at_hand_.empty());
  }

  // Takes the next step with the lock held, and does the slow parts after releasing it:
  // starting reads and decode tasks, saving a checkpoint, ending the session. Called with mu_
  // taken by mu_.Lock() (not a MutexLock, which would unlock it again); returns without it.
  void Advance() RELEASE(mu_) {
    std::vector<Window> windows = TakeWindows();
    if (stopped_) {  // what waited for a window will not be read
      for (int64_t n : not_at_hand_) Apply(n, Status::Ok(), nullptr);
      not_at_hand_.clear();
    }
    // A decode task per batch of direct reads there is room for, up to one per thread.
    const size_t direct = DirectReadsAllowed(todo_.size());
    DecodeTasks::Claim claim =
        decode_tasks_.ClaimUpTo(static_cast<int64_t>((direct + batch_size_ - 1) / batch_size_));
    // Every chunk started holds a reservation until it leaves: an empty budget is none in flight.
    const bool end = AllOut() && budget_.empty() && !decode_tasks_.claims_out() && !ended_;
    if (end) ended_ = true;
    if (end) GlobalChunkPipelineStats().pipelines_running.Add(-1);
    std::optional<ChunkCheckpoint> checkpoint;
    uint64_t checkpoint_seq = 0;
    if (checkpoint_timer_.TryTake(cursor_.done(), /*final=*/end)) {
      checkpoint = ChunkCheckpoint{cursor_, job_.consumer->SaveState()};
      checkpoint_seq = ++checkpoint_seq_;
    }
    if (job_.report_live_progress && progress_throttle_.TryPass(/*force=*/end)) {
      job_.report_live_progress({.chunks_done = cursor_.done(),
                                 .chunks_total = cursor_.total(),
                                 .bytes_done = bytes_read_,
                                 .done = &cursor_});
    }
    const bool completed = end && error_.ok() && !stopped_;
    const Status error = error_;
    const bool tell_stop = stopped_ && !stop_told_;
    if (tell_stop) stop_told_ = true;
    mu_.Unlock();

    if (tell_stop) job_.consumer->OnStop();  // it may finish held chunks, which locks mu_

    if (claim) SubmitDecodeTasks(std::move(claim));
    for (Window& w : windows) Issue(std::move(w));
    if (checkpoint) SaveCheckpoint(*checkpoint, checkpoint_seq);
    if (!end) return;
    if (!completed) {
      return done_(error.ok() ? OpOutcome::Canceled()
                              : OpOutcome::Failed(error, job_.consumer->ErrorKind()));
    }
    job_.consumer->Finish([self = shared_from_this()](Result<nlohmann::json> result) {
      self->done_(result.ok()
                      ? OpOutcome::Completed(std::move(*result))
                      : OpOutcome::Failed(result.status(), self->job_.consumer->ErrorKind()));
    });
  }

  // Checkpoints are saved in order and never concurrently (the contract of save_checkpoint).
  // Two threads may take checkpoints one after the other and reach here in the opposite
  // order; the older one is then stale and skipped.
  void SaveCheckpoint(const ChunkCheckpoint& checkpoint, uint64_t seq) {
    MutexLock lock(save_mu_);
    if (seq <= saved_seq_) return;
    saved_seq_ = seq;
    job_.save_checkpoint(checkpoint);
  }

  ChunkJob job_;
  WorkerPool& decode_;
  const OpDone done_;
  const int64_t chunk_bytes_;
  const int min_window_;
  const size_t batch_size_;    // chunks a decode task takes at once
  const int chunks_per_turn_;  // chunks a decode task handles before it yields its thread

  Mutex save_mu_;
  uint64_t saved_seq_ GUARDED_BY(save_mu_) = 0;
  Mutex mu_;
  PendingChunks todo_;               // chunk numbers not done at the start, in order (const after)
  size_t next_ GUARDED_BY(mu_) = 0;  // next todo_ entry to start
  int reads_in_flight_ GUARDED_BY(mu_) = 0;        // GetMany keys not yet reported
  ByteBudget budget_ GUARDED_BY(mu_);              // chunk_bytes_ per chunk started, not yet left
  std::deque<Fetched> fetched_ GUARDED_BY(mu_);    // read by the store, waiting for a decode task
  DecodeTasks decode_tasks_ GUARDED_BY(mu_);       // DecodeLoops out, threads submitting them
  DirectReadPolicy direct_reads_ GUARDED_BY(mu_);  // whether decode threads read chunks themselves
  std::vector<int64_t> not_at_hand_ GUARDED_BY(mu_);  // reserved, to read with GetMany
  bool stopped_ GUARDED_BY(mu_) = false;              // canceled or failed; no new reads
  bool ended_ GUARDED_BY(mu_) = false;                // done_ has been (or is being) called
  bool stop_told_ GUARDED_BY(mu_) = false;            // consumer.OnStop has been called
  Status error_ GUARDED_BY(mu_);                      // the first chunk error
  ChunkCursor cursor_ GUARDED_BY(mu_);
  CheckpointTimer checkpoint_timer_ GUARDED_BY(mu_);
  uint64_t checkpoint_seq_ GUARDED_BY(mu_) = 0;
  IntervalThrottle progress_throttle_ GUARDED_BY(mu_);  // live progress reports
  int64_t bytes_read_ GUARDED_BY(mu_) = 0;              // encoded bytes read by this run
};

}  // namespace

nlohmann::json ChunkCheckpoint::ToJson() const {
  return {{"done", cursor.ToJson()}, {"op", op_state}};
}

Result<ChunkCheckpoint> ChunkCheckpoint::FromJson(const nlohmann::json& json, int64_t total) {
  if (!json.is_object() || !json.contains("done")) {
    return Status::InvalidArgument("a checkpoint is {\"done\", \"op\"}");
  }
  ASSIGN_OR_RETURN(ChunkCursor cursor, ChunkCursor::FromJson(json["done"], total));
  return ChunkCheckpoint{std::move(cursor), json.value("op", nlohmann::json())};
}

void RunChunkPipeline(ChunkJob job, WorkerPool& decode, int decode_threads, OpDone done) {
  auto pipeline =
      std::make_shared<Pipeline>(std::move(job), decode, decode_threads, std::move(done));
  pipeline->Start();
}

}  // namespace batchd::pipeline
