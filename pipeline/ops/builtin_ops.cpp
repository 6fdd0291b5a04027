// The orchestration-only ops: noop, sleep and fail. They do no data work, so the scheduler
// can be tested and benchmarked alone.
#include <atomic>
#include <vector>

#include "core/mutex.h"
#include "pipeline/ops/op_registry.h"

namespace batchd::pipeline {
namespace {

// {"op": "noop"}: completes at once.
class NoopOp final : public Op {
 public:
  void Run(const OpContext&, OpDone done) const override { done(OpOutcome::Completed()); }
};

// Reads a non-negative integer member of the job; kInvalidArgument naming it otherwise.
Result<int64_t> NonNegativeInt(const nlohmann::json& job, const char* op, const char* member,
                               std::optional<int64_t> fallback) {
  auto it = job.find(member);
  if (it == job.end()) {
    if (fallback) return *fallback;
    return Status::InvalidArgument(std::string(op) + ": job needs \"" + member + "\"",
                                   std::string("/") + member);
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return Status::InvalidArgument(
        std::string(op) + ": \"" + member + "\" must be a non-negative integer, got " + it->dump(),
        std::string("/") + member);
  }
  return it->get<int64_t>();
}

// {"op": "sleep", "ms": 50}: completes after ms milliseconds on the shared timer; a cancel
// ends it at once. With "chunks": N it pretends to work through N chunks in that time,
// reporting progress after each (for demos and tests of the progress events and the
// dashboard's chunk map; real chunk progress comes from the chunk pipeline's ops).
class SleepOp final : public Op {
 public:
  explicit SleepOp(TimerService& timers) : timers_(timers) {}

  std::vector<std::string> SubmitCheckedMembers() const override { return {"/ms", "/chunks"}; }

  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override {
    const bool ms = pointer == "/ms";
    if (!ms && pointer != "/chunks") return Status::Ok();
    const int64_t max = ms ? kMaxMs : kMaxChunks;
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > max) {
      return Status::InvalidArgument(std::string("sleep: \"") + (ms ? "ms" : "chunks") +
                                     "\" must be an integer from 0 to " + std::to_string(max) +
                                     ", got " + value.dump());
    }
    return Status::Ok();
  }

  Result<nlohmann::json> Prepare(const nlohmann::json& job) const override {
    ASSIGN_OR_RETURN(int64_t ms, NonNegativeInt(job, "sleep", "ms", std::nullopt));
    ASSIGN_OR_RETURN(int64_t chunks, NonNegativeInt(job, "sleep", "chunks", 0));
    for (const char* member : {"/ms", "/chunks"}) {
      if (Status s = CheckMember(member, member[1] == 'm' ? ms : chunks); !s.ok()) {
        return Status(s.code(), s.message(), member);
      }
    }
    nlohmann::json resolved = {{"ms", ms}};
    if (chunks > 0) resolved["chunks"] = chunks;  // plain sleeps keep their old state
    return resolved;
  }

  void Run(const OpContext& ctx, OpDone done) const override {
    const int64_t ms = ctx.resolved->value("ms", int64_t{0});
    const int64_t chunks = ctx.resolved->value("chunks", int64_t{0});
    if (chunks > 0) return RunChunks(ctx, ms, chunks, std::move(done));
    // Whichever of the timer and the cancel comes first finishes the run; the other is a no-op.
    // The winner also lets go of `done`: the token keeps its OnCancel callback until it is
    // destroyed, and `done` may own the token (the scheduler's does), so holding it there would
    // make a cycle that never frees the token, the session's state or its job.
    struct Run {
      std::atomic<bool> finished{false};
      OpDone done;  // written before the run starts, then only by the one that finishes
    };
    auto run = std::make_shared<Run>();
    run->done = std::move(done);
    auto finish = [run](OpOutcome outcome) {
      if (run->finished.exchange(true)) return;
      OpDone report = std::move(run->done);
      run->done = nullptr;
      report(std::move(outcome));
    };
    const TimerService::TimerId timer = timers_.Schedule(
        std::chrono::milliseconds(ms), [finish] { finish(OpOutcome::Completed()); });
    ctx.cancel->OnCancel([this, timer, finish] {
      timers_.Cancel(timer);
      finish(OpOutcome::Canceled());
    });
  }

 private:
  static constexpr int64_t kMaxChunks = 1'000'000;
  // 30 days. Beyond some 9.2e12 ms the timer's microseconds overflowed and the sleep ended at
  // once (issue 10, item 9).
  static constexpr int64_t kMaxMs = int64_t{30} * 24 * 3600 * 1000;

  // One "chunk" per ms/chunks, in a scattered order (a stride through the chunks), the way a
  // pipeline with many reads in flight finishes them.
  struct ChunkRun {
    Mutex mu;
    ChunkCursor done GUARDED_BY(mu);
    int64_t finished GUARDED_BY(mu) = 0;
    TimerService::TimerId timer GUARDED_BY(mu) = 0;
    bool over GUARDED_BY(mu) = false;  // completed or canceled
    // Taken by whichever of the last tick and the cancel ends the run, so the token's cancel
    // callback (which holds `run`) no longer reaches it: `done` may own the token.
    OpDone on_done GUARDED_BY(mu);
  };

  void RunChunks(const OpContext& ctx, int64_t ms, int64_t chunks, OpDone done) const {
    auto run = std::make_shared<ChunkRun>();
    {
      MutexLock lock(run->mu);  // not shared yet: for the analysis
      run->done = ChunkCursor(chunks);
      run->on_done = std::move(done);
    }
    const auto step = std::chrono::microseconds(ms * 1000 / chunks);
    const int64_t stride = chunks > 7 && chunks % 7 != 0 ? 7 : 1;
    LiveProgressReporter report = ctx.live_progress;
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, run, chunks, stride, step, report, weak = std::weak_ptr(tick)] {
      LiveProgress p;
      OpDone on_done;
      {
        MutexLock lock(run->mu);
        if (run->over) return;
        run->done.MarkDone(run->finished * stride % chunks);
        p.chunks_done = ++run->finished;
        p.chunks_total = chunks;
        p.bytes_done = p.chunks_done * 1024;
        p.done = &run->done;
        if (report) report(p);
        if (run->finished == chunks) {
          run->over = true;
        } else if (auto next = weak.lock()) {
          run->timer = timers_.Schedule(step, [next] { (*next)(); });
          return;
        }
        on_done = std::move(run->on_done);
        run->on_done = nullptr;
      }
      on_done(OpOutcome::Completed(nlohmann::json{{"chunks", chunks}}));
    };
    {
      MutexLock lock(run->mu);
      run->timer = timers_.Schedule(step, [tick] { (*tick)(); });
    }
    // Holds neither `done` nor `tick` (whose closure the timer holds until it runs or is
    // canceled): see ChunkRun::on_done.
    ctx.cancel->OnCancel([this, run] {
      OpDone on_done;
      {
        MutexLock lock(run->mu);
        if (run->over) return;
        run->over = true;
        timers_.Cancel(run->timer);
        on_done = std::move(run->on_done);
        run->on_done = nullptr;
      }
      on_done(OpOutcome::Canceled());
    });
  }

  TimerService& timers_;
};

// {"op": "fail", "kind": "transient" | "permanent", "until_attempt": N, "message": "..."}:
// fails while the attempt number is below until_attempt (always, if absent), then completes.
// For testing retries and error reporting.
class FailOp final : public Op {
 public:
  // The message becomes the error of every session that fails, stored and sent in its event,
  // so it is bounded like a batch's name (docs/api.md, "Limits").
  std::vector<std::string> SubmitCheckedMembers() const override { return {"/message"}; }

  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override {
    if (pointer != "/message") return Status::Ok();
    if (!value.is_string()) {
      return Status::InvalidArgument("fail: \"message\" must be a string, got " +
                                     std::string(value.type_name()));
    }
    const size_t size = value.get_ref<const std::string&>().size();
    if (size > kMaxMessageBytes) {
      return Status::InvalidArgument("fail: \"message\" is " + std::to_string(size) +
                                     " bytes long; at most " + std::to_string(kMaxMessageBytes) +
                                     " bytes are allowed");
    }
    return Status::Ok();
  }

  Result<nlohmann::json> Prepare(const nlohmann::json& job) const override {
    const std::string kind = job.value("kind", std::string("permanent"));
    if (kind != "transient" && kind != "permanent") {
      return Status::InvalidArgument("fail: \"kind\" must be \"transient\" or \"permanent\"",
                                     "/kind");
    }
    ASSIGN_OR_RETURN(int64_t until, NonNegativeInt(job, "fail", "until_attempt", INT64_MAX));
    nlohmann::json message = job.value("message", nlohmann::json("failed on purpose"));
    if (Status s = CheckMember("/message", message); !s.ok()) {
      return Status(s.code(), s.message(), "/message");
    }
    return nlohmann::json{{"kind", kind}, {"until_attempt", until}, {"message", message}};
  }

  void Run(const OpContext& ctx, OpDone done) const override {
    const nlohmann::json& r = *ctx.resolved;
    if (ctx.attempt >= r["until_attempt"].get<int64_t>()) return done(OpOutcome::Completed());
    const std::string message = r["message"].get<std::string>();
    done(OpOutcome::Failed(r["kind"] == "transient" ? Status::Unavailable(message)
                                                    : Status::InvalidArgument(message)));
  }

 private:
  static constexpr size_t kMaxMessageBytes = 1024;
};

}  // namespace

void RegisterBuiltinOps(OpRegistry& registry, TimerService& timers) {
  registry.Register("noop", std::make_unique<NoopOp>());
  registry.Register("sleep", std::make_unique<SleepOp>(timers));
  registry.Register("fail", std::make_unique<FailOp>());
}

}  // namespace batchd::pipeline
