#include "pipeline/ops/command_stream_op.h"

#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <set>
#include <sstream>

#include "core/mutex.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/ops/chunk_stream_protocol.h"
#include "pipeline/ops/command_job.h"
#include "pipeline/ops/zarr_sink.h"
#include "pipeline/process/capped_log_file.h"
#include "pipeline/process/process_group.h"
#include "pipeline/process/tail_buffer.h"

namespace batchd::pipeline {
namespace {

// The wire carries little-endian elements and the pipeline hands consumers native ones.
static_assert(std::endian::native == std::endian::little,
              "the chunk stream passes native elements as little-endian");

constexpr size_t kStderrQuoteBytes = 2048;
constexpr size_t kStderrQuoteLines = 10;

int64_t Elements(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Copies the `extent` corner of a C-order chunk of `chunk_shape` into `out` (C order), or back
// (`to_chunk`): the program sees an edge chunk without its padding.
void CopyCorner(const uint8_t* chunk, std::span<const int64_t> chunk_shape,
                std::span<const int64_t> extent, size_t element, uint8_t* corner, bool to_chunk) {
  const size_t rank = chunk_shape.size();
  if (rank == 0 || std::equal(extent.begin(), extent.end(), chunk_shape.begin())) {
    const size_t n = static_cast<size_t>(Elements(chunk_shape)) * element;
    to_chunk ? std::memcpy(const_cast<uint8_t*>(chunk), corner, n) : std::memcpy(corner, chunk, n);
    return;
  }
  // Rows along the last dimension; an odometer over the others.
  const size_t row = static_cast<size_t>(extent[rank - 1]) * element;
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * chunk_shape[d];
  std::vector<int64_t> at(rank, 0);
  const int64_t rows = Elements(extent) / std::max<int64_t>(extent[rank - 1], 1);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offset = 0;
    for (size_t d = 0; d + 1 < rank; ++d) offset += at[d] * stride[d];
    uint8_t* c = const_cast<uint8_t*>(chunk) + static_cast<size_t>(offset) * element;
    to_chunk ? std::memcpy(c, corner, row) : std::memcpy(corner, c, row);
    corner += row;
    for (size_t d = rank - 1; d-- > 0;) {
      if (++at[d] < extent[d]) break;
      at[d] = 0;
    }
  }
}

struct StreamContribution final : ChunkContribution {
  nlohmann::json result;
  bool wrote = false;
};

// Where the sink chunks go.
struct SinkTarget {
  std::shared_ptr<ChunkStore> store;
  std::shared_ptr<const Codec> codec;
  ArrayMetadata array;
};

// A chunk on its way to the program and back.
struct Item {
  std::string key;
  std::vector<int64_t> coords;
  std::vector<int64_t> extent;
  ChunkConsumer::ProcessDone done;
};

// One session's program and its two streams, shared by the consumer, the thread writing the
// program's stdin, the thread supervising it (which reads its stdout) and the cancel callback.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::unique_ptr<ProcessGroup> group, int stdin_fd, std::optional<SinkTarget> sink,
         ResultFold checker)
      : group_(std::move(group)),
        stdin_fd_(stdin_fd),
        sink_(std::move(sink)),
        checker_(std::move(checker)) {}

  // The writer thread's body: the hello line, chunks as they are queued, the end line.
  void WriteLoop(std::string hello) {
    bool ok = WriteAll({{hello.data(), hello.size()}});
    if (!ok) Fail(Status::FailedPrecondition("the program closed its stdin at once"));
    for (;;) {
      std::string header;
      Bytes data;
      std::string key;
      {
        MutexLock lock(mu_);
        while (ok && !stopping_ && queue_.empty() && !finishing_) changed_.Wait(mu_);
        if (!ok || stopping_) break;
        if (queue_.empty()) {  // finishing, everything sent
          lock.Unlock();
          std::string end = StreamEndLine();
          (void)WriteAll({{end.data(), end.size()}});  // a program may exit without reading it
          break;
        }
        Queued q = std::move(queue_.front());
        queue_.pop_front();
        header = std::move(q.header);
        data = std::move(q.data);
        key = q.item.key;
        awaiting_.push_back(std::move(q.item));
      }
      ok = WriteAll({{header.data(), header.size()}, {data.data(), data.size()}});
      if (!ok) {
        Fail(Status::FailedPrecondition(
            "the program closed its stdin before batchd had written chunk " + key + " to it"));
      }
    }
    ::close(stdin_fd_);
  }

  // The supervising thread's body: until the program has exited, then the outcome.
  void SuperviseLoop(SuperviseOptions supervise, std::function<void()> after_exit) {
    AnswerReader reader([this](std::string_view line) { return OnLine(line); },
                        [this](Bytes payload) { return OnPayload(std::move(payload)); });
    supervise.out = [this, &reader](std::string_view bytes) {
      if (reader_failed_) return;
      if (Status s = reader.Feed(bytes); !s.ok()) {
        reader_failed_ = true;
        FailCurrent(s);
      }
    };
    const Supervised supervised = group_->Supervise(supervise);
    bool cut_short = reader.InTheMiddle();
    after_exit();
    std::deque<Item> left;
    ChunkConsumer::FinishDone finish;
    nlohmann::json finish_result;
    Status failure;  // for the first chunk left, unless one carried it already
    Status whole;    // the stream's, for Finish
    bool canceled = false;
    {
      MutexLock lock(mu_);
      exited_ = true;
      stopping_ = true;
      canceled = canceled_;
      // In the order sent: the one being answered, those written, those queued.
      if (current_) left.push_back(std::move(*current_));
      current_.reset();
      for (Item& i : awaiting_) left.push_back(std::move(i));
      awaiting_.clear();
      for (Queued& q : queue_) left.push_back(std::move(q.item));
      queue_.clear();
      if (failure_.ok()) {
        timed_out_ = supervised.timed_out;
        failure_ = ExitFailure(supervised, cut_short, !left.empty());
      }
      whole = failure_;
      failure = failure_delivered_ ? Status::Ok() : failure_;
      finish = std::move(finish_);
      finish_result = finish_result_;
      changed_.SignalAll();
    }
    // The first chunk not answered carries the failure; the others leave undone.
    bool first = true;
    for (Item& i : left) {
      if (first && !canceled && !failure.ok()) {
        i.done(failure);
      } else {
        i.done(std::unique_ptr<ChunkContribution>());
      }
      first = false;
    }
    if (finish) {
      // Canceled once every chunk was answered: the work is done all the same.
      if (!whole.ok() && !canceled) return finish(whole);
      finish(std::move(finish_result));
    }
  }

  // A chunk for the program (the pipeline's Process): queued for the writer, or failed at once
  // when the program is gone.
  void Push(Item item, std::string header, Bytes data) {
    Status failure;
    bool dropped = false;
    {
      MutexLock lock(mu_);
      if (!stopping_) {
        queue_.push_back({std::move(item), std::move(header), std::move(data)});
        changed_.SignalAll();
        return;
      }
      if (exited_ && failure_.ok() && !canceled_) {
        failure_ = Status::FailedPrecondition("the program exited before it was sent this chunk");
      }
      failure = failure_;
      dropped = canceled_ || failure.ok();
    }
    if (dropped) return item.done(std::unique_ptr<ChunkContribution>());
    item.done(failure);
  }

  // Every chunk is answered: the end line, then `done` with `result` once the program exits 0.
  void Finish(nlohmann::json result, ChunkConsumer::FinishDone done) {
    Status failure;
    {
      MutexLock lock(mu_);
      if (!exited_) {
        finishing_ = true;
        finish_ = std::move(done);
        finish_result_ = std::move(result);
        changed_.SignalAll();
        return;
      }
      failure = failure_;
    }
    if (!failure.ok()) return done(failure);
    done(std::move(result));
  }

  // The session was canceled, or its pipeline ended without finishing: the program stops.
  // The stream failed because the program ran past its timeout_s (and nothing else failed
  // first).
  bool TimedOut() const {
    MutexLock lock(mu_);
    return timed_out_;
  }

  void Stop(bool canceled) {
    MutexLock lock(mu_);
    if (canceled) canceled_ = true;
    stopping_ = true;
    if (!exited_ && group_) group_->Terminate();
    changed_.SignalAll();
  }

 private:
  struct Queued {
    Item item;
    std::string header;
    Bytes data;
  };

  bool WriteAll(std::vector<iovec> parts) {
    size_t i = 0;
    while (i < parts.size()) {
      if (parts[i].iov_len == 0) {
        ++i;
        continue;
      }
      const ssize_t n = ::writev(stdin_fd_, &parts[i], static_cast<int>(parts.size() - i));
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      size_t left = static_cast<size_t>(n);
      while (i < parts.size() && left >= parts[i].iov_len) left -= parts[i++].iov_len;
      if (left > 0) {
        parts[i].iov_base = static_cast<char*>(parts[i].iov_base) + left;
        parts[i].iov_len -= left;
      }
    }
    return true;
  }

  // An answer line: for the oldest chunk sent and not answered.
  Result<uint64_t> OnLine(std::string_view line) {
    {
      MutexLock lock(mu_);
      if (awaiting_.empty()) {
        return Status::InvalidArgument(
            "the program wrote an answer while no chunk was waiting for one");
      }
      current_ = std::move(awaiting_.front());
      awaiting_.pop_front();
    }
    std::optional<uint64_t> output;
    if (sink_) {
      output = static_cast<uint64_t>(Elements(current_->extent)) *
               static_cast<uint64_t>(sink_->array.dtype.size);
    }
    ASSIGN_OR_RETURN(ChunkAnswer answer, ParseAnswerLine(line, current_->key, output));
    RETURN_IF_ERROR(checker_.Check(answer.result));
    for (const auto& [member, v] : answer.result.items()) {
      members_.insert(member);
      if (members_.size() > kMaxResultMembers) {
        return Status::InvalidArgument("the program's results name more than " +
                                       std::to_string(kMaxResultMembers) + " members");
      }
    }
    answer_ = std::move(answer);
    return answer_.has_output ? answer_.output_bytes : 0;
  }

  // The rest of an answer: its output chunk (empty when it has none).
  Status OnPayload(Bytes payload) {
    Item item = std::move(*current_);
    current_.reset();
    auto c = std::make_unique<StreamContribution>();
    c->result = std::move(answer_.result);
    if (!answer_.has_output) {
      item.done(std::unique_ptr<ChunkContribution>(std::move(c)));
      return Status::Ok();
    }
    const ArrayMetadata& out = sink_->array;
    Bytes chunk(out.ChunkBytes());
    const std::array<uint8_t, 8> fill = *out.FillElement();  // checked at prepare
    const auto size = static_cast<size_t>(out.dtype.size);
    for (size_t i = 0; i < chunk.size(); i += size)
      std::memcpy(chunk.data() + i, fill.data(), size);
    CopyCorner(chunk.data(), out.chunk_shape, item.extent, size, payload.data(), true);
    Bytes encoded;
    if (Status s = sink_->codec->Encode(chunk, encoded); !s.ok()) {
      item.done(Status(s.code(), "encoding the program's output chunk: " + s.message()));
      return Status::Ok();
    }
    c->wrote = true;
    sink_->store->Put(out.keys.Key(item.coords), std::move(encoded),
                      [done = std::move(item.done),
                       c = std::shared_ptr<StreamContribution>(std::move(c))](Status s) mutable {
                        if (!s.ok())
                          return done(Status(s.code(), "writing to the sink: " + s.message()));
                        auto owned = std::make_unique<StreamContribution>();
                        owned->result = std::move(c->result);
                        owned->wrote = true;
                        done(std::unique_ptr<ChunkContribution>(std::move(owned)));
                      });
    return Status::Ok();
  }

  // A bad answer or a failed write: the chunk it concerns fails, the program is terminated.
  void FailCurrent(const Status& s) {
    std::optional<Item> item;
    {
      MutexLock lock(mu_);
      if (failure_.ok()) failure_ = s;
      item = std::move(current_);
      current_.reset();
      if (!item && !awaiting_.empty()) {
        item = std::move(awaiting_.front());
        awaiting_.pop_front();
      }
      stopping_ = true;
      if (group_) group_->Terminate();
      changed_.SignalAll();
    }
    if (item) {
      failure_delivered_ = true;
      item->done(s);
    }
  }

  void Fail(const Status& s) {
    MutexLock lock(mu_);
    if (failure_.ok()) failure_ = s;
    stopping_ = true;
    if (group_) group_->Terminate();
    changed_.SignalAll();
  }

  Status ExitFailure(const Supervised& supervised, bool cut_short, bool unanswered) const {
    if (supervised.timed_out) {
      return Status::FailedPrecondition("the program ran longer than its timeout_s and was killed");
    }
    const ProcessExit& exit = supervised.exit;
    std::string message;
    if (cut_short) {
      message = "the program " + exit.Describe() + " in the middle of an answer";
    } else if (unanswered) {
      message = "the program " + exit.Describe() + " before answering";
    } else if (exit.signaled || exit.code != 0) {
      message = "the program " + exit.Describe();
    } else {
      return Status::Ok();
    }
    const std::string tail = LastLines(stderr_end.Contents(), kStderrQuoteLines);
    if (!tail.empty()) message += "; its stderr ends:\n" + tail;
    return Status::FailedPrecondition(message);
  }

 public:
  TailBuffer stderr_end{kStderrQuoteBytes};  // the supervising thread's

 private:
  std::unique_ptr<ProcessGroup> group_;  // until the stream's owner drops it
  const int stdin_fd_;                   // the writer thread's
  const std::optional<SinkTarget> sink_;
  const ResultFold checker_;  // the job's reductions, for checking answers
  // The supervising thread's.
  std::optional<Item> current_;
  ChunkAnswer answer_;
  std::set<std::string> members_;
  bool reader_failed_ = false;
  bool failure_delivered_ = false;  // a chunk carried failure_ already

  mutable Mutex mu_;
  CondVar changed_;
  std::deque<Queued> queue_ GUARDED_BY(mu_);   // for the writer
  std::deque<Item> awaiting_ GUARDED_BY(mu_);  // written, not answered, in order
  bool finishing_ GUARDED_BY(mu_) = false;     // Finish: the end line after the last chunk
  bool stopping_ GUARDED_BY(mu_) = false;      // write nothing more
  bool canceled_ GUARDED_BY(mu_) = false;
  bool exited_ GUARDED_BY(mu_) = false;     // Supervise returned
  bool timed_out_ GUARDED_BY(mu_) = false;  // the stream's failure is its timeout_s
  Status failure_ GUARDED_BY(mu_);          // the stream's first error
  ChunkConsumer::FinishDone finish_ GUARDED_BY(mu_);
  nlohmann::json finish_result_ GUARDED_BY(mu_);
};

class StreamConsumer final : public ChunkConsumer {
 public:
  StreamConsumer(std::shared_ptr<Stream> stream, ResultFold fold, const ArrayMetadata& source,
                 nlohmann::json sink_url, std::optional<SinkTarget> sink)
      : stream_(std::move(stream)),
        fold_(std::move(fold)),
        chunk_shape_(source.chunk_shape),
        element_(static_cast<size_t>(source.dtype.size)),
        dtype_(LittleEndian(source.dtype)),
        sink_url_(std::move(sink_url)),
        sink_(std::move(sink)) {}

  ~StreamConsumer() override { stream_->Stop(false); }

  static std::string LittleEndian(DataType d) {
    d.big_endian = false;
    return d.ToNumpy();
  }

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    Item item{.key = *chunk.key,
              .coords = {chunk.coords.begin(), chunk.coords.end()},
              .extent = {chunk.extent.begin(), chunk.extent.end()},
              .done = std::move(done)};
    const uint64_t bytes = static_cast<uint64_t>(Elements(chunk.extent)) * element_;
    std::string header =
        ChunkHeaderLine(item.key, chunk.coords, chunk.extent, dtype_, bytes, chunk.missing);
    Bytes data(static_cast<size_t>(bytes));
    CopyCorner(chunk.data.data(), chunk_shape_, chunk.extent, element_, data.data(), false);
    stream_->Push(std::move(item), std::move(header), std::move(data));
  }

  std::string ErrorKind() const override { return stream_->TimedOut() ? "timeout" : ""; }

  void Fold(int64_t, ChunkContribution& c) override {
    auto& s = static_cast<StreamContribution&>(c);
    fold_.Add(s.result);
    ++chunks_;
    if (s.wrote) ++written_;
  }

  nlohmann::json SaveState() const override {
    return {{"fold", fold_.ToJson()}, {"chunks", chunks_}, {"chunks_written", written_}};
  }

  Status RestoreState(const nlohmann::json& state) override {
    if (!state.is_object()) return Status::InvalidArgument("a stream's state is an object");
    ASSIGN_OR_RETURN(fold_, ResultFold::FromJson(state.value("fold", nlohmann::json())));
    chunks_ = state.value("chunks", int64_t{0});
    written_ = state.value("chunks_written", int64_t{0});
    return Status::Ok();
  }

  void Finish(FinishDone done) override {
    nlohmann::json result = fold_.ToJson();
    result["chunks"] = chunks_;
    if (sink_) {
      result["sink"] = sink_url_;
      result["chunks_written"] = written_;
    }
    if (!sink_) return stream_->Finish(std::move(result), std::move(done));
    // The sink's .zarray last, once the program has answered everything and exited 0.
    stream_->Finish(std::move(result), [this, done = std::move(done)](Result<nlohmann::json> r) {
      if (!r.ok()) return done(r.status());
      const std::string doc = ZarrV2ArrayDocument(sink_->array);
      sink_->store->Put(
          ".zarray", Bytes(doc.begin(), doc.end()),
          [done, r = std::move(*r), url = sink_->store->url()](Status s) {
            if (!s.ok()) {
              return done(Status(s.code(), "writing " + url + "/.zarray: " + s.message()));
            }
            done(r);
          });
    });
  }

 private:
  const std::shared_ptr<Stream> stream_;
  ResultFold fold_;  // guarded by the pipeline's lock (Fold, SaveState)
  const std::vector<int64_t> chunk_shape_;
  const size_t element_;
  const std::string dtype_;
  const nlohmann::json sink_url_;
  const std::optional<SinkTarget> sink_;
  int64_t chunks_ = 0;   // answered, in this run and those before
  int64_t written_ = 0;  // output chunks written
};

class CommandStreamOp final : public ChunkOp {
 public:
  CommandStreamOp(const ChunkServices& services, const CommandOptions& options,
                  const ProcessRecords& records, RunThreads& threads)
      : ChunkOp(services), options_(options), records_(records), threads_(threads) {}

  std::vector<std::string> SubmitCheckedMembers() const override {
    std::vector<std::string> members = ChunkOp::SubmitCheckedMembers();
    members.push_back("/sink/url");
    members.push_back("/reduce");
    return members;
  }

  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override {
    if (pointer == "/reduce") return ResultFold::CheckReduce(value);
    return ChunkOp::CheckMember(pointer, value);
  }

 protected:
  Result<nlohmann::json> PrepareOp(const nlohmann::json& job,
                                   const ArrayMetadata& array) const override {
    ASSIGN_OR_RETURN(CommandJob command, ParseCommandJob(job));
    if (Result<std::string> exe = options_.allow.Resolve(command.argv[0]); !exe.ok()) {
      return Status(exe.status().code(), exe.status().message(), "/argv/0");
    }
    const nlohmann::json reduce = job.value("reduce", nlohmann::json());
    if (Status s = ResultFold::CheckReduce(reduce); !s.ok()) {
      return Status(s.code(), s.message(), "/reduce");
    }
    nlohmann::json sink_json;
    if (auto sink = job.find("sink"); sink != job.end() && !sink->is_null()) {
      ASSIGN_OR_RETURN(sink_json, PrepareSink(*sink, array));
    }
    return nlohmann::json{{"command", command.ToJson()}, {"reduce", reduce}, {"sink", sink_json}};
  }

  Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json&, const ArrayMetadata&,
                                                      const ChunkRegion&, bool) const override {
    return Status::Internal("the command stream needs its session's context");
  }

  Result<std::unique_ptr<ChunkConsumer>> MakeConsumerFor(const OpContext& ctx,
                                                         const nlohmann::json& op,
                                                         const ArrayMetadata& array,
                                                         const ChunkRegion&,
                                                         bool resumed) const override {
    ASSIGN_OR_RETURN(CommandJob job, CommandJob::FromJson(op.value("command", nlohmann::json())));
    Result<std::string> executable = options_.allow.Resolve(job.argv[0]);
    if (!executable.ok()) {
      return Status(executable.status().code(), executable.status().message(), "/argv/0");
    }
    ASSIGN_OR_RETURN(ResultFold fold, ResultFold::Create(op.value("reduce", nlohmann::json())));
    const nlohmann::json sink_json = op.value("sink", nlohmann::json());
    std::optional<SinkTarget> sink;
    if (!sink_json.is_null()) {
      ASSIGN_OR_RETURN(ArrayMetadata out,
                       ArrayMetadata::FromJson(sink_json.value("array", nlohmann::json())));
      ASSIGN_OR_RETURN(std::shared_ptr<ChunkStore> store,
                       services_.stores.Open(sink_json.value("url", std::string())));
      if (resumed) RETURN_IF_ERROR(store->RemoveStaleTempFiles().status());
      ASSIGN_OR_RETURN(std::unique_ptr<const Codec> codec,
                       services_.codecs.Create(
                           out.codec, {.element_size = static_cast<size_t>(out.dtype.size)}));
      sink = SinkTarget{std::move(store), std::move(codec), std::move(out)};
    }

    // stdout carries the chunk answers, so stderr is the session's one log (served by the log
    // endpoint like the plain command op's).
    std::error_code ec;
    std::filesystem::create_directories(CommandBatchLogsDir(options_.work_dir, ctx.batch_id), ec);
    if (ec) return Status::IoError("command: " + ec.message());
    const std::string id = std::to_string(ctx.session_id);
    const uint64_t half = options_.log_bytes_per_session / 2;
    Result<CappedLogFile> created = CappedLogFile::Create(
        CommandLogPath(options_.work_dir, ctx.batch_id, ctx.session_id, "stderr"), half, half);
    if (!created.ok()) return created.status();
    auto err_log = std::make_shared<CappedLogFile>(std::move(*created));

    const ProcessSpec spec{
        .executable = *executable,
        .argv = job.argv,
        .env = ProgramEnvironment(job, PlaceOf(ctx),
                                  (options_.work_dir / "results" / (id + ".json")).string()),
        .cwd = job.cwd,
        .limits = options_.limits,
        .stdin_pipe = true};
    ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group, ProcessGroup::Spawn(spec));
    RETURN_IF_ERROR(records_.Record(ctx.session_id, group->pgid(), group->start_ticks()));
    if (Status released = group->Release(); !released.ok()) {
      records_.Forget(ctx.session_id);
      return released;
    }
    const int stdin_fd = group->TakeStdin();
    std::optional<SinkTarget> sink_copy = sink;
    auto stream = std::make_shared<Stream>(std::move(group), stdin_fd, std::move(sink_copy), fold);
    ctx.cancel->OnCancel([weak = std::weak_ptr<Stream>(stream)] {
      if (auto s = weak.lock()) s->Stop(true);
    });

    nlohmann::json hello_array = {{"shape", array.shape},
                                  {"chunks", array.chunk_shape},
                                  {"dtype", StreamConsumer::LittleEndian(array.dtype)}};
    nlohmann::json hello_sink;
    if (sink) {
      hello_sink = {{"dtype", sink->array.dtype.ToNumpy()}, {"fill_value", sink->array.fill_value}};
    }
    threads_.Start([stream, hello = StreamHelloLine(hello_array, hello_sink)]() mutable {
      stream->WriteLoop(std::move(hello));
    });
    SuperviseOptions supervise{.kill_grace = options_.kill_grace};
    if (job.timeout_ms) supervise.timeout = std::chrono::milliseconds(*job.timeout_ms);
    supervise.err = [stream_raw = stream.get(), err_log](std::string_view bytes) {
      err_log->Append(bytes);
      stream_raw->stderr_end.Append(bytes);
    };
    const ProcessRecords& records = records_;
    const int64_t session = ctx.session_id;
    threads_.Start([stream, supervise, err_log, &records, session]() mutable {
      stream->SuperviseLoop(std::move(supervise), [&] {
        records.Forget(session);
        (void)err_log->Close();
      });
    });
    return std::unique_ptr<ChunkConsumer>(std::make_unique<StreamConsumer>(
        stream, std::move(fold), array,
        sink_json.is_object() ? sink_json.value("url", nlohmann::json()) : nlohmann::json(),
        std::move(sink)));
  }

 private:
  // The sink: a zarr v2 array of the source's shape and chunks, of `dtype` (default the
  // source's, little-endian) and `fill_value` (default the source's when the dtype is the same,
  // else 0), encoded with `codec`.
  Result<nlohmann::json> PrepareSink(const nlohmann::json& sink, const ArrayMetadata& array) const {
    if (!sink.is_object() || !sink.contains("url") || !sink["url"].is_string()) {
      return Status::InvalidArgument(
          "a command's \"sink\" is {\"url\": \"file:///...\", \"codec\": {...}, \"dtype\": ...}",
          "/sink");
    }
    const std::string url = sink["url"].get<std::string>();
    Result<std::shared_ptr<ChunkStore>> store = services_.stores.Open(url);
    if (!store.ok()) return Status(store.status().code(), store.status().message(), "/sink/url");
    (*store)->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
    ArrayMetadata out = array;
    out.dtype.big_endian = false;
    if (auto d = sink.find("dtype"); d != sink.end() && !d->is_null()) {
      Result<DataType> dtype =
          d->is_string() ? DataType::FromNumpy(d->get<std::string>())
                         : Result<DataType>(Status::InvalidArgument("\"dtype\" must be a string"));
      if (!dtype.ok()) return Status::InvalidArgument(dtype.status().message(), "/sink/dtype");
      if (dtype->big_endian && dtype->size > 1) {
        return Status::InvalidArgument(
            "the sink's dtype must be little-endian (\"<f4\"): the program writes "
            "little-endian elements",
            "/sink/dtype");
      }
      out.dtype = *dtype;
    }
    const bool same_type = out.dtype.kind == array.dtype.kind && out.dtype.size == array.dtype.size;
    out.fill_value = same_type ? FillValueForZarrV2(array) : nlohmann::json(0);
    if (auto f = sink.find("fill_value"); f != sink.end() && !f->is_null()) out.fill_value = *f;
    if (!out.FillElement().ok()) {
      return Status::InvalidArgument("the sink's fill_value " + out.fill_value.dump() +
                                         " does not fit its dtype " + out.dtype.ToNumpy(),
                                     "/sink/fill_value");
    }
    const nlohmann::json codec_config = sink.value("codec", nlohmann::json());
    Result<std::unique_ptr<const Codec>> codec = services_.codecs.Create(
        codec_config.is_null() ? nlohmann::json{{"id", "raw"}} : codec_config,
        {.element_size = static_cast<size_t>(out.dtype.size)});
    if (!codec.ok()) return Status::InvalidArgument(codec.status().message(), "/sink/codec");
    out.codec = (*codec)->ToJson();
    if (out.codec.value("id", std::string()) == "crc32c") {
      return Status::InvalidArgument(
          "crc32c is a zarr v3 checksum codec; a zarr v2 sink's compressor cannot be it",
          "/sink/codec");
    }
    const std::string separator = sink.value("separator", std::string("."));
    if (separator != "." && separator != "/") {
      return Status::InvalidArgument("\"separator\" must be \".\" or \"/\"", "/sink/separator");
    }
    out.format = "zarr2";
    out.filters = nlohmann::json::array();
    out.outer_codecs = nlohmann::json::array();
    out.shards.reset();
    out.keys = {.prefix = "", .separator = separator[0]};
    RETURN_IF_ERROR(CheckSinkIsCompatible(**store, out, "a command"));
    return nlohmann::json{{"url", url}, {"array", out.ToJson()}};
  }

  const CommandOptions& options_;
  const ProcessRecords& records_;
  RunThreads& threads_;
};

}  // namespace

std::unique_ptr<Op> MakeCommandStreamOp(const ChunkServices& services,
                                        const CommandOptions& options,
                                        const ProcessRecords& records, RunThreads& threads) {
  return std::make_unique<CommandStreamOp>(services, options, records, threads);
}

bool IsStreamResult(const nlohmann::json& result) {
  return result.is_object() && result.contains("values") && result.contains("reduce") &&
         result.contains("chunks");
}

Result<nlohmann::json> FoldStreamResult(const nlohmann::json& aggregate,
                                        const nlohmann::json& result) {
  ASSIGN_OR_RETURN(ResultFold add, ResultFold::FromJson(result));
  ResultFold total;
  int64_t sessions = 0, chunks = 0, written = 0;
  if (!aggregate.is_null()) {
    ASSIGN_OR_RETURN(total, ResultFold::FromJson(aggregate));
    sessions = aggregate.value("sessions", int64_t{0});
    chunks = aggregate.value("chunks", int64_t{0});
    written = aggregate.value("chunks_written", int64_t{0});
  }
  total.Merge(add);
  nlohmann::json folded = total.ToJson();
  folded["sessions"] = sessions + 1;
  folded["chunks"] = chunks + result.value("chunks", int64_t{0});
  if (result.contains("chunks_written") || aggregate.contains("chunks_written")) {
    folded["chunks_written"] = written + result.value("chunks_written", int64_t{0});
  }
  return folded;
}

}  // namespace batchd::pipeline
