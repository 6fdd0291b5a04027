// The API's SessionLogSource over the command op's log files (pipeline/ops/command_op.h,
// CommandLogPath): a session's state comes from the store, its bytes from its file. Follows
// (long polls) wait on one timer thread, looking at the file's size every poll_interval and at
// the session in the store every few, so a follower holds no thread; all file work (reads, a
// deleted batch's removal) runs on that thread too, never on an HTTP or store thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "api/session_log_source.h"
#include "core/mutex.h"
#include "pipeline/engine/timer_service.h"
#include "storage/records.h"
#include "storage/store.h"

namespace batchd::daemon {

struct SessionLogOptions {
  std::filesystem::path work_dir;  // the command op's (DataDir::CommandDir)
  std::chrono::milliseconds poll_interval{200};
  // How long a follow waits for new bytes before answering with none (docs/api.md).
  std::chrono::milliseconds max_wait{20'000};
  // Follows waiting at once; one more is answered at once, as if it had not asked to follow.
  size_t max_waiting = 256;
};

class SessionLogFiles final : public api::SessionLogSource {
 public:
  // `store` must outlive this object.
  SessionLogFiles(storage::Store& store, SessionLogOptions options);
  ~SessionLogFiles() override;  // Stop()s

  void Read(const api::LogQuery& query, std::function<void(Result<api::LogChunk>)> done) override;
  void DeleteBatchLogs(const std::string& batch_public_id) override;
  size_t WaitingFollows() const override;

  // Removes, in the background, the log directories of batches the store does not have: a
  // batch deleted by a daemon that died before it removed them. Call once at start.
  void SweepDeletedBatches();

  // Answers every waiting follow with what its log holds now (and later ones at once), then
  // stops the thread. Call before the HTTP server stops, while the store still answers.
  void Stop();

 private:
  using Done = std::function<void(Result<api::LogChunk>)>;
  using Deadline = std::chrono::steady_clock::time_point;

  // One look at the session (in the store) and its file; answers, or Waits. `ticks` counts
  // the poll intervals waited so far.
  void Look(const api::LogQuery& query, Done done, Deadline deadline, bool waiting, int ticks);
  void Answer(const api::LogQuery& query, Done done, Deadline deadline, bool waiting, int ticks,
              const Result<storage::SessionDetail>& session);
  // After poll_interval: Looks again if the file at `path` grew past the offset, if the store
  // is due a look (every kFileLooksPerStoreLook intervals: has the session ended?), if the
  // deadline has passed or if stopping; else Waits again.
  void Wait(const api::LogQuery& query, Done done, Deadline deadline,
            const std::filesystem::path& path, int ticks);

  void Forget() EXCLUDES(mu_);  // one in-flight piece of work is done

  storage::Store& store_;
  const SessionLogOptions options_;
  mutable Mutex mu_;
  CondVar idle_;
  size_t waiting_ GUARDED_BY(mu_) = 0;
  size_t in_flight_ GUARDED_BY(mu_) = 0;  // looks queued on the store or the timer thread
  bool stopping_ GUARDED_BY(mu_) = false;
  pipeline::TimerService timers_;  // last: stopped (joined) first
};

}  // namespace batchd::daemon
