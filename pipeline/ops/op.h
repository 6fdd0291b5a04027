// What a session runs. An op is registered under the name jobs give in their "op" member
// (OpRegistry); the scheduler prepares it once when the session is dequeued and then runs it.
//
// Recipe for a new op: subclass Op, implement Run (and Prepare if the op must resolve
// something before running, such as array metadata), and register it in RegisterBuiltinOps
// (builtin_ops.cpp). SleepOp there is the reference for an asynchronous, cancellable op.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/engine/cancel_token.h"
#include "pipeline/engine/chunk_cursor.h"

namespace batchd::pipeline {

// How a run ended.
struct OpOutcome {
  enum class Kind { kCompleted, kFailed, kCanceled };
  Kind kind = Kind::kCompleted;
  nlohmann::json result;  // kCompleted: the session's result (may be null)
  Status error;           // kFailed: why; see IsTransient
  // kFailed: the session's error kind when it is neither "transient" nor "permanent" (the
  // command op's "timeout"); such a failure is not retried. Empty: IsTransient decides.
  std::string error_kind;

  static OpOutcome Completed(nlohmann::json result = nullptr) {
    return {Kind::kCompleted, std::move(result), Status::Ok(), {}};
  }
  static OpOutcome Failed(Status error) { return {Kind::kFailed, nullptr, std::move(error), {}}; }
  static OpOutcome Failed(Status error, std::string kind) {
    return {Kind::kFailed, nullptr, std::move(error), std::move(kind)};
  }
  static OpOutcome Canceled() { return {Kind::kCanceled, nullptr, Status::Ok(), {}}; }
};

// Failures worth retrying: the thing may work later (I/O, a busy peer). Everything else (bad
// input, a bug) fails the session at once.
inline bool IsTransient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kIoError;
}

// Where a running session stands goes by two words, because the two things have different
// contracts (docs/scheduler.md, "Checkpoints and live progress"):
//   - A checkpoint is durable: the resumable state a session saves (SessionCheckpoint, through
//     OpContext::save_checkpoint; storage::CheckpointUpdate and Store::SaveCheckpoint below it),
//     written in order with the session's other writes and handed back as OpContext::checkpoint
//     when the session runs again, after a retry or a restart.
//   - Live progress is ephemeral: what a running op reports for people to watch (LiveProgress,
//     through OpContext::live_progress; storage::SessionLiveProgress and
//     Store::ReportLiveProgress below it), throttled, coalesced and streamed as session.progress
//     events. Nothing resumes from it, and a report lost or replaced by the next costs nothing.
// (SQLite's WAL checkpoints, storage/checkpointer.h, are neither.) The wire keeps its names: the
// session's "progress" member (read from the checkpoint columns) and the *.progress events.

// A checkpoint: where a running session stands, saved so that it can resume there (chunk ops).
struct SessionCheckpoint {
  int64_t chunks_done = 0;
  int64_t chunks_total = 0;
  nlohmann::json state;  // opaque to the scheduler; handed back as OpContext::checkpoint
};

// Live progress: what a chunked op reports while it runs, the hook behind `session.progress`
// events and the dashboard's chunk map (docs/api.md, "Events").
struct LiveProgress {
  int64_t chunks_done = 0;
  int64_t chunks_total = 0;
  int64_t bytes_done = 0;  // bytes read so far, for the batch's bytes/s
  // Optional: which chunks are done. Read during the call only.
  const ChunkCursor* done = nullptr;
};

// Called by the op from any thread, as often as it likes: the receiver keeps only the latest
// report per session and writes at most ten a second.
using LiveProgressReporter = std::function<void(const LiveProgress&)>;

struct OpContext {
  int64_t session_id = 0;
  int64_t attempt = 1;                             // 1 for the first start
  std::shared_ptr<const nlohmann::json> job;       // the template with the session's values
  std::shared_ptr<const nlohmann::json> resolved;  // what Prepare returned
  std::shared_ptr<CancelToken> cancel;
  LiveProgressReporter live_progress;  // may be empty (then there is nobody to tell)
  // The state of the session's last saved checkpoint (a resumed session), or null.
  std::shared_ptr<const nlohmann::json> checkpoint;
  // Saves a checkpoint: group-committed with the session's other writes, in call order, and
  // ignored once the session has left in_progress. Empty when nobody listens (tests).
  std::function<void(SessionCheckpoint)> save_checkpoint;
  // Where the session stands in its batch (what the command op tells its program): the
  // batch's public id, the run (from 0) and one item index per data group. Empty or null in
  // tests that do not set them.
  std::string batch_id;
  uint64_t run = 0;
  std::shared_ptr<const std::vector<uint64_t>> index;
};

using OpDone = std::function<void(OpOutcome)>;

class Op {
 public:
  virtual ~Op() = default;

  // Called once, when the session is first dequeued; the result is stored in its execution
  // state and handed to every run (also after a restart). Errors fail the session.
  virtual Result<nlohmann::json> Prepare(const nlohmann::json& job) const {
    return nlohmann::json::object();
  }

  // Whether this daemon runs this op at all, checked at submit for every job naming it (a 422
  // at the op's path) and when a session is prepared. A refusal says which flag turns it on.
  // Default: always.
  virtual Status Enabled() const { return Status::Ok(); }

  // Members of a job this op can check at submit, cheaply and without I/O, as JSON Pointers
  // ("/ms"), so a bad value is a 422 naming its place in the request instead of a session that
  // fails later. The API checks the template's value at each (unless data items replace it) and
  // every data item substituted there, with CheckMember. Default: none.
  virtual std::vector<std::string> SubmitCheckedMembers() const { return {}; }
  // Ok if `value` may stand at `pointer` (one of SubmitCheckedMembers); kInvalidArgument with a
  // message (without a path: the caller knows where the value came from) otherwise.
  virtual Status CheckMember(std::string_view pointer, const nlohmann::json& value) const {
    return Status::Ok();
  }

  // Runs the session. Must call `done` exactly once, from any thread, and must end soon after
  // ctx.cancel is canceled (returning OpOutcome::Canceled()). Must not block for long: slow
  // waits belong on a timer or another pool, so that slots can outnumber threads.
  virtual void Run(const OpContext& ctx, OpDone done) const = 0;

  // Folds one completed session's result into its batch's result (`aggregate` is null before
  // the first). The batch shows the aggregate as its "result". Must be deterministic and
  // order-independent up to rounding. Default: this op's results do not fold (null).
  virtual Result<nlohmann::json> FoldResult(const nlohmann::json& aggregate,
                                            const nlohmann::json& result) const {
    return nlohmann::json();
  }
};

}  // namespace batchd::pipeline
