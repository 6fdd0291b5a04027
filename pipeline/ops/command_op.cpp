#include "pipeline/ops/command_op.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "core/mutex.h"
#include "pipeline/ops/command_job.h"
#include "pipeline/ops/command_stream_op.h"
#include "pipeline/process/capped_log_file.h"
#include "pipeline/process/process_records.h"
#include "pipeline/process/run_threads.h"
#include "pipeline/process/tail_buffer.h"

namespace batchd::pipeline {
namespace {

// A result is stored with its session and folded into nothing: a megabyte is plenty, and the
// file is read whole.
constexpr uint64_t kMaxResultBytes = 1 << 20;
constexpr int kMaxResultDepth = 64;
// How much of stderr's end an error message quotes.
constexpr size_t kStderrQuoteBytes = 2048;
constexpr size_t kStderrQuoteLines = 10;

// One session's run, shared by its supervising thread and its cancel callback.
struct CommandRun {
  Mutex mu;
  bool canceled GUARDED_BY(mu) = false;
  ProcessGroup* group GUARDED_BY(mu) = nullptr;  // while it runs
  // Taken by the thread when it reports, so the token's callback (which holds this run) no
  // longer reaches `done`, which may own the token (see SleepOp).
  OpDone done GUARDED_BY(mu);
};

}  // namespace

ProgramPlace PlaceOf(const OpContext& ctx) {
  nlohmann::json index = nlohmann::json::array();
  if (ctx.index) {
    for (uint64_t i : *ctx.index) index.push_back(i);
  }
  return {.session_id = ctx.session_id,
          .batch_id = ctx.batch_id,
          .run = ctx.run,
          .index_json = index.dump(),
          .attempt = ctx.attempt};
}

namespace {

class CommandOp final : public Op {
 public:
  explicit CommandOp(CommandOptions options)
      : options_(std::move(options)),
        records_(CommandProcessRecordsDir(options_.work_dir)),
        stream_(options_.chunks != nullptr
                    ? MakeCommandStreamOp(*options_.chunks, options_, records_, threads_)
                    : nullptr) {}

  Status Enabled() const override {
    if (!options_.allow.empty()) return Status::Ok();
    return Status::InvalidArgument(
        "the command op is off on this daemon: start it with --allow-command PATH (an "
        "executable or a directory of them) to run programs");
  }

  std::vector<std::string> SubmitCheckedMembers() const override {
    return {"/argv",       "/argv/0", "/env",      "/cwd",   "/timeout_s", "/transient_exit_codes",
            "/source/url", "/region", "/sink/url", "/reduce"};
  }

  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override {
    if (IsStreamMember(pointer)) {
      if (stream_ == nullptr) return NoStream();
      return stream_->CheckMember(pointer, value);
    }
    if (pointer != "/argv/0") return CheckCommandMember(pointer, value);
    if (!value.is_string()) {
      return Status::InvalidArgument("command: argv[0] must be a string naming the program, got " +
                                     std::string(value.type_name()));
    }
    Result<std::string> resolved = options_.allow.Resolve(value.get<std::string>());
    return resolved.ok() ? Status::Ok() : resolved.status();
  }

  Result<nlohmann::json> Prepare(const nlohmann::json& job) const override {
    if (job.contains("source")) {
      if (stream_ == nullptr) return Status(NoStream().code(), NoStream().message(), "/source");
      return stream_->Prepare(job);
    }
    for (const char* member : {"sink", "reduce"}) {
      if (job.contains(member)) {
        return Status::InvalidArgument(
            std::string("command: \"") + member + "\" needs a \"source\" (chunk streaming)",
            std::string("/") + member);
      }
    }
    ASSIGN_OR_RETURN(CommandJob parsed, ParseCommandJob(job));
    if (Result<std::string> exe = options_.allow.Resolve(parsed.argv[0]); !exe.ok()) {
      return Status(exe.status().code(), exe.status().message(), "/argv/0");
    }
    return parsed.ToJson();
  }

  void Run(const OpContext& ctx, OpDone done) const override {
    if (ctx.job && ctx.job->contains("source") && stream_ != nullptr) {
      return stream_->Run(ctx, std::move(done));
    }
    auto run = std::make_shared<CommandRun>();
    {
      MutexLock lock(run->mu);  // not shared yet: for the analysis
      run->done = std::move(done);
    }
    ctx.cancel->OnCancel([run] {
      MutexLock lock(run->mu);
      run->canceled = true;
      if (run->group != nullptr) run->group->Terminate();
    });
    // Spawning forks the daemon: on the run's own thread, not the scheduler's.
    threads_.Start([this, ctx, run] {
      OpOutcome outcome = Execute(ctx, *run);
      OpDone report;
      {
        MutexLock lock(run->mu);
        report = std::move(run->done);
        run->done = nullptr;
      }
      report(std::move(outcome));
    });
  }

  // A chunk stream's results fold by their reductions (docs/command.md); other results do not.
  Result<nlohmann::json> FoldResult(const nlohmann::json& aggregate,
                                    const nlohmann::json& result) const override {
    if (!IsStreamResult(result)) return aggregate;
    return FoldStreamResult(aggregate, result);
  }

 private:
  static bool IsStreamMember(std::string_view pointer) {
    return pointer == "/source/url" || pointer == "/region" || pointer == "/sink/url" ||
           pointer == "/reduce";
  }

  static Status NoStream() {
    return Status::InvalidArgument(
        "command: this daemon streams no chunks to programs (no chunk pipeline)");
  }

  // The whole run, on its thread: spawn, record, release, supervise, judge.
  OpOutcome Execute(const OpContext& ctx, CommandRun& run) const {
    Result<CommandJob> job = CommandJob::FromJson(*ctx.resolved);
    if (!job.ok()) return OpOutcome::Failed(job.status());
    // Again at every run: the allowlist may have changed since the session was prepared.
    Result<std::string> executable = options_.allow.Resolve(job->argv[0]);
    if (!executable.ok()) {
      return OpOutcome::Failed(
          Status(executable.status().code(), executable.status().message(), "/argv/0"));
    }
    const std::filesystem::path logs = CommandBatchLogsDir(options_.work_dir, ctx.batch_id);
    const std::filesystem::path results = options_.work_dir / "results";
    std::error_code ec;
    std::filesystem::create_directories(logs, ec);
    if (!ec) std::filesystem::create_directories(results, ec);
    if (ec) return OpOutcome::Failed(Status::IoError("command: " + ec.message()));
    const std::string id = std::to_string(ctx.session_id);
    const std::filesystem::path result_file = results / (id + ".json");
    std::filesystem::remove(result_file, ec);  // a failed attempt's

    const uint64_t quarter = options_.log_bytes_per_session / 4;
    Result<CappedLogFile> out_log = CappedLogFile::Create(
        CommandLogPath(options_.work_dir, ctx.batch_id, ctx.session_id, "stdout"), quarter,
        quarter);
    if (!out_log.ok()) return OpOutcome::Failed(out_log.status());
    Result<CappedLogFile> err_log = CappedLogFile::Create(
        CommandLogPath(options_.work_dir, ctx.batch_id, ctx.session_id, "stderr"), quarter,
        quarter);
    if (!err_log.ok()) return OpOutcome::Failed(err_log.status());

    {
      MutexLock lock(run.mu);
      if (run.canceled) return OpOutcome::Canceled();
    }
    const ProcessSpec spec{.executable = *executable,
                           .argv = job->argv,
                           .env = ProgramEnvironment(*job, PlaceOf(ctx), result_file.string()),
                           .cwd = job->cwd,
                           .limits = options_.limits};
    Result<std::unique_ptr<ProcessGroup>> group = ProcessGroup::Spawn(spec);
    if (!group.ok()) return OpOutcome::Failed(group.status());
    // Recorded before it may run: a daemon dying from here on leaves a note to kill it by.
    if (Status recorded =
            records_.Record(ctx.session_id, (*group)->pgid(), (*group)->start_ticks());
        !recorded.ok()) {
      return OpOutcome::Failed(recorded);  // the child, still at its gate, is killed
    }
    {
      MutexLock lock(run.mu);
      run.group = group->get();
      if (run.canceled) run.group->Terminate();
    }
    const Status released = (*group)->Release();
    TailBuffer stderr_end(kStderrQuoteBytes);
    SuperviseOptions supervise{.kill_grace = options_.kill_grace};
    if (job->timeout_ms) supervise.timeout = std::chrono::milliseconds(*job->timeout_ms);
    supervise.out = [&](std::string_view bytes) { out_log->Append(bytes); };
    supervise.err = [&](std::string_view bytes) {
      err_log->Append(bytes);
      stderr_end.Append(bytes);
    };
    const Supervised supervised = (*group)->Supervise(supervise);
    {
      MutexLock lock(run.mu);
      run.group = nullptr;
    }
    group->reset();
    records_.Forget(ctx.session_id);
    (void)out_log->Close();
    (void)err_log->Close();
    bool canceled = false;
    {
      MutexLock lock(run.mu);
      canceled = run.canceled;
    }
    if (!released.ok()) return OpOutcome::Failed(released);
    if (canceled && supervised.terminated) return OpOutcome::Canceled();
    if (supervised.timed_out) {
      std::ostringstream limit;
      limit << static_cast<double>(*job->timeout_ms) / 1000.0;
      return OpOutcome::Failed(
          Status::FailedPrecondition("the program ran longer than its timeout_s of " + limit.str() +
                                     " and was killed"),
          "timeout");
    }
    const ProcessExit& exit = supervised.exit;
    if (exit.signaled || exit.code != 0) {
      std::string message = "the program " + exit.Describe();
      const std::string tail = LastLines(stderr_end.Contents(), kStderrQuoteLines);
      if (!tail.empty()) message += "; its stderr ends:\n" + tail;
      const bool transient =
          !exit.signaled &&
          std::find(job->transient_exit_codes.begin(), job->transient_exit_codes.end(),
                    exit.code) != job->transient_exit_codes.end();
      return OpOutcome::Failed(transient ? Status::Unavailable(message)
                                         : Status::FailedPrecondition(message));
    }
    return ReadResult(result_file);
  }

  // What the program wrote to BATCHD_RESULT_FILE: the session's result (null if nothing).
  static OpOutcome ReadResult(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return OpOutcome::Completed();
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxResultBytes) {
      std::filesystem::remove(path, ec);
      return OpOutcome::Failed(Status::FailedPrecondition(
          "the program's BATCHD_RESULT_FILE holds " + std::to_string(size) +
          " bytes; a result may have at most " + std::to_string(kMaxResultBytes)));
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::filesystem::remove(path, ec);
    const std::string json_text = text.str();
    if (JsonNestedDeeper(json_text, kMaxResultDepth)) {
      return OpOutcome::Failed(Status::FailedPrecondition(
          "the program's BATCHD_RESULT_FILE holds JSON nested deeper than " +
          std::to_string(kMaxResultDepth)));
    }
    try {
      nlohmann::json result = nlohmann::json::parse(json_text);
      (void)result.dump();  // throws for strings that are not UTF-8, which could not be stored
      return OpOutcome::Completed(std::move(result));
    } catch (const nlohmann::json::exception& e) {
      return OpOutcome::Failed(Status::FailedPrecondition(
          std::string("the program's BATCHD_RESULT_FILE does not hold JSON: ") + e.what()));
    }
  }

  const CommandOptions options_;
  const ProcessRecords records_;
  const std::unique_ptr<Op> stream_;  // jobs with a "source"; null without ChunkServices
  mutable RunThreads threads_;        // declared last: joined first, while the rest still exists
};

}  // namespace

std::filesystem::path CommandProcessRecordsDir(const std::filesystem::path& work_dir) {
  return work_dir / "processes";
}

std::filesystem::path CommandLogsDir(const std::filesystem::path& work_dir) {
  return work_dir / "logs";
}

std::filesystem::path CommandBatchLogsDir(const std::filesystem::path& work_dir,
                                          const std::string& batch_public_id) {
  return CommandLogsDir(work_dir) / batch_public_id;
}

std::filesystem::path CommandLogPath(const std::filesystem::path& work_dir,
                                     const std::string& batch_public_id, int64_t session_id,
                                     const std::string& stream) {
  return CommandBatchLogsDir(work_dir, batch_public_id) /
         (std::to_string(session_id) + "." + stream);
}

void RegisterCommandOp(OpRegistry& registry, CommandOptions options) {
  registry.Register("command", std::make_unique<CommandOp>(std::move(options)));
}

}  // namespace batchd::pipeline
