#include "daemon/session_log_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "pipeline/ops/command_op.h"

namespace batchd::daemon {
namespace {

// Between two looks at the store (which reads the whole session, its batch's spec with it),
// a waiting follow looks at its file's size alone this many times.
constexpr int kFileLooksPerStoreLook = 5;

const char* StreamName(api::LogStream stream) {
  return stream == api::LogStream::kStdout ? "stdout" : "stderr";
}

bool Finished(storage::SessionState state) {
  return state == storage::SessionState::kCompleted || state == storage::SessionState::kError ||
         state == storage::SessionState::kCanceled;
}

// The op the session's job names, once it has been dequeued ("" before, or if unreadable).
std::string OpOf(const storage::SessionDetail& d) {
  if (!d.execution || d.execution->state_json.empty()) return "";
  const nlohmann::json state = nlohmann::json::parse(d.execution->state_json, nullptr, false);
  if (!state.is_object()) return "";
  const auto job = state.find("job");
  if (job == state.end() || !job->is_object()) return "";
  const auto op = job->find("op");
  return op != job->end() && op->is_string() ? op->get<std::string>() : "";
}

// Closes a descriptor on every way out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// One answer to `query` from the session's log file as it is now. The session's state was
// read before the file: a session that had finished then has closed its logs (the op closes
// them before its outcome is stored), so `finished` means the file will not grow.
Result<api::LogChunk> ReadNow(const std::filesystem::path& work_dir,
                              const storage::SessionDetail& d, const api::LogQuery& query) {
  api::LogChunk chunk;
  chunk.finished = Finished(d.session.state);
  const std::string stream = StreamName(query.stream);
  const std::filesystem::path path =
      pipeline::CommandLogPath(work_dir, d.session.batch_public_id, d.session.id, stream);
  const Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  uint64_t size = 0;
  if (file.fd < 0) {
    if (errno != ENOENT) {
      return Status::IoError("cannot open the log " + path.string() + ": " + std::strerror(errno));
    }
    const std::string op = OpOf(d);
    if (!op.empty() && op != "command") {
      chunk.has_log = false;
      chunk.no_log_reason = "session " + std::to_string(d.session.id) + " runs the " + op +
                            " op, which keeps no log (only command sessions do)";
      return chunk;
    }
    // A command session that has not started its program (yet): its log is empty so far.
  } else {
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
      return Status::IoError("cannot stat the log " + path.string() + ": " + std::strerror(errno));
    }
    size = static_cast<uint64_t>(st.st_size);
  }
  chunk.size = size;
  chunk.offset = query.offset;
  if (query.offset > size) {
    if (chunk.finished) {
      return Status::Malformed("offset " + std::to_string(query.offset) +
                                   " is past the end of the log (" + std::to_string(size) +
                                   " bytes)",
                               "?offset");
    }
    // Each attempt writes its log anew: this one is shorter than where the reader was.
    chunk.restarted = true;
    chunk.offset = 0;
  }
  const uint64_t want = std::min<uint64_t>(query.max_bytes, size - chunk.offset);
  chunk.bytes.resize(static_cast<size_t>(want));
  size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(file.fd, chunk.bytes.data() + got, want - got,
                              static_cast<off_t>(chunk.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::IoError("cannot read the log " + path.string() + ": " + std::strerror(errno));
    }
    if (n == 0) break;  // truncated since fstat (a new attempt): answer what was there
    got += static_cast<size_t>(n);
  }
  chunk.bytes.resize(got);
  return chunk;
}

// A public batch id as the store makes them (storage/batch_insert_job.cpp): lowercase hex.
// Anything else is not turned into a path.
bool SafeBatchId(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
  });
}

}  // namespace

SessionLogFiles::SessionLogFiles(storage::Store& store, SessionLogOptions options)
    : store_(store), options_(std::move(options)) {}

SessionLogFiles::~SessionLogFiles() { Stop(); }

void SessionLogFiles::Read(const api::LogQuery& query, Done done) {
  {
    MutexLock lock(mu_);
    ++in_flight_;
  }
  std::chrono::milliseconds wait = options_.max_wait;
  if (query.wait_ms > 0) {
    wait = std::min(wait, std::chrono::milliseconds(static_cast<int64_t>(query.wait_ms)));
  }
  Look(query, std::move(done), std::chrono::steady_clock::now() + wait, false, 0);
}

void SessionLogFiles::Look(const api::LogQuery& query, Done done, Deadline deadline, bool waiting,
                           int ticks) {
  store_.GetSession(query.session_id, [this, query, done = std::move(done), deadline, waiting,
                                       ticks](Result<storage::SessionDetail> session) mutable {
    // The file is read on the timer thread, not on the store's; once stopping, here (the
    // timer thread may be gone, and nothing waits any more).
    auto shared = std::make_shared<Result<storage::SessionDetail>>(std::move(session));
    {
      MutexLock lock(mu_);
      if (!stopping_) {
        timers_.Schedule(std::chrono::milliseconds(0),
                         [this, query, done, deadline, waiting, ticks, shared] {
                           Answer(query, done, deadline, waiting, ticks, *shared);
                         });
        return;
      }
    }
    Answer(query, done, deadline, waiting, ticks, *shared);
  });
}

void SessionLogFiles::Answer(const api::LogQuery& query, Done done, Deadline deadline, bool waiting,
                             int ticks, const Result<storage::SessionDetail>& session) {
  Result<api::LogChunk> chunk = session.ok() ? ReadNow(options_.work_dir, *session, query)
                                             : Result<api::LogChunk>(session.status());
  const bool nothing_yet =
      chunk.ok() && chunk->has_log && chunk->bytes.empty() && !chunk->finished && !chunk->restarted;
  if (query.follow && nothing_yet) {
    MutexLock lock(mu_);
    const bool may_wait = !stopping_ && std::chrono::steady_clock::now() < deadline &&
                          (waiting || waiting_ < options_.max_waiting);
    if (may_wait) {
      if (!waiting) ++waiting_;
      Wait(query, done, deadline,
           pipeline::CommandLogPath(options_.work_dir, session->session.batch_public_id,
                                    query.session_id, StreamName(query.stream)),
           ticks + 1);
      return;
    }
  }
  done(std::move(chunk));
  if (waiting) {
    MutexLock lock(mu_);
    --waiting_;
  }
  Forget();
}

void SessionLogFiles::Forget() {
  MutexLock lock(mu_);
  --in_flight_;
  idle_.SignalAll();
}

void SessionLogFiles::Wait(const api::LogQuery& query, Done done, Deadline deadline,
                           const std::filesystem::path& path, int ticks) {
  // No lock needed to schedule: this follow is in flight, so Stop has not stopped the timers.
  timers_.Schedule(options_.poll_interval, [this, query, done, deadline, path, ticks] {
    bool stopping = false;
    {
      MutexLock lock(mu_);
      stopping = stopping_;
    }
    if (ticks % kFileLooksPerStoreLook != 0 && !stopping &&
        std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      const uintmax_t size = std::filesystem::file_size(path, ec);
      if (ec || size <= query.offset) return Wait(query, done, deadline, path, ticks + 1);
    }
    Look(query, done, deadline, true, ticks);
  });
}

void SessionLogFiles::DeleteBatchLogs(const std::string& batch_public_id) {
  if (!SafeBatchId(batch_public_id)) return;
  const std::filesystem::path dir =
      pipeline::CommandBatchLogsDir(options_.work_dir, batch_public_id);
  timers_.Schedule(std::chrono::milliseconds(0), [dir] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec)
      spdlog::warn("cannot remove the logs of a deleted batch at {}: {}", dir.string(),
                   ec.message());
  });
}

void SessionLogFiles::SweepDeletedBatches() {
  {
    MutexLock lock(mu_);
    ++in_flight_;
  }
  timers_.Schedule(std::chrono::milliseconds(0), [this] {
    const std::filesystem::path logs = pipeline::CommandLogsDir(options_.work_dir);
    std::vector<std::string> batches;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(logs, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      const std::string name = it->path().filename().string();
      if (it->is_directory(type_ec) && SafeBatchId(name)) batches.push_back(name);
    }
    for (const std::string& batch : batches) {
      {
        MutexLock lock(mu_);
        ++in_flight_;
      }
      store_.GetBatch(batch, [this, batch](Result<storage::BatchRecord> b) {
        if (!b.ok() && b.status().code() == StatusCode::kNotFound) {
          std::error_code remove_ec;
          std::filesystem::remove_all(pipeline::CommandBatchLogsDir(options_.work_dir, batch),
                                      remove_ec);
          if (remove_ec) {
            spdlog::warn("cannot remove the logs of deleted batch {}: {}", batch,
                         remove_ec.message());
          } else {
            spdlog::info("removed the logs of batch {}, deleted before the last stop", batch);
          }
        }
        Forget();
      });
    }
    Forget();
  });
}

size_t SessionLogFiles::WaitingFollows() const {
  MutexLock lock(mu_);
  return waiting_;
}

void SessionLogFiles::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    // Each waiting follow answers at its next look, within a poll_interval.
    while (in_flight_ > 0) idle_.Wait(mu_);
  }
  timers_.Stop();
}

}  // namespace batchd::daemon
