// The event hub's threads (storage/pg/pg_events.h): sequencer, follower, worker. The statements
// live in pg_event_table.cpp, pg_event_sequencer.cpp and pg_progress_events.cpp; this file only
// decides when to run them and on which connection.
#include "storage/pg/pg_events.h"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "storage/live_progress_coalescer.h"
#include "storage/pg/pg_event_sequencer.h"
#include "storage/pg/pg_event_table.h"
#include "storage/pg/pg_notification_loop.h"
#include "storage/pg/pg_progress_events.h"
#include "storage/pg/pg_remote_stop.h"

namespace batchd::storage::pg {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kRowsChannel = "batchd_event_rows";
constexpr const char* kEventsChannel = "batchd_events";
constexpr int64_t kPassLimit = 10'000;       // rows one sequencer pass numbers at most
constexpr int kFollowerPage = 1'024;         // events per read (and per listener call) at most
constexpr int64_t kRetentionSlice = 10'000;  // events one retention transaction deletes at most
constexpr milliseconds kMaxWait{100};        // how long a thread waits before looking at Stop

NotificationLoopOptions SequencerLoopOptions(const PgEventHubOptions& options) {
  return {.channels = {kRowsChannel},
          // A pass holds the lock every node's sequencer waits for: a node that stalls in the
          // middle of one (paused, cut off) must not stop the others for long.
          .session_setup = "SET idle_in_transaction_session_timeout = '10s'",
          .backstop = options.sequencer_backstop,
          .name = "event sequencer"};
}

NotificationLoopOptions FollowerLoopOptions(const PgEventHubOptions& options) {
  return {.channels = {kEventsChannel},
          .backstop = options.follower_backstop,
          .name = "event follower"};
}

// Its own connection and thread, so that neither a pass waiting for the lock nor a slow listener
// delays a stop (it must reach the node within a second).
NotificationLoopOptions StopLoopOptions() {
  return {.channels = {kStopChannel}, .backstop = std::chrono::hours(1), .name = "stop listener"};
}

class PgEventHubImpl final : public PgEventHub {
 public:
  PgEventHubImpl(PgEventHubOptions options, std::unique_ptr<PgConnection> sequencer_conn,
                 std::unique_ptr<PgConnection> follower_conn,
                 std::unique_ptr<PgConnection> stop_conn, std::unique_ptr<PgConnection> worker_conn,
                 int64_t start_seq)
      : options_(std::move(options)),
        coalescer_({.interval = options_.events.progress_interval,
                    .max_reports_per_round = options_.events.session_progress_per_interval},
                   options_.steady_clock),
        sequencer_conn_(std::move(sequencer_conn)),
        follower_conn_(std::move(follower_conn)),
        stop_conn_(std::move(stop_conn)),
        worker_conn_(std::move(worker_conn)),
        delivered_seq_(start_seq) {}

  ~PgEventHubImpl() override { Stop(); }

  void StartThreads() {
    sequencer_ = std::thread([this] {
      RunNotificationLoop(*sequencer_conn_, SequencerLoopOptions(options_), stopping_sequencer_,
                          [this](const std::vector<PgNotification>&) { return RunPasses(); });
    });
    follower_ = std::thread([this] {
      RunNotificationLoop(*follower_conn_, FollowerLoopOptions(options_), stopping_follower_,
                          [this](const std::vector<PgNotification>&) { return DeliverNew(); });
    });
    stops_ = std::thread([this] {
      RunNotificationLoop(*stop_conn_, StopLoopOptions(), stopping_stops_,
                          [this](const std::vector<PgNotification>& notes) {
                            HandleStopNotices(notes);
                            return Status::Ok();
                          });
    });
    worker_ = std::thread([this] { WorkerLoop(); });
  }

  void ReportLiveProgress(SessionLiveProgress progress) override {
    if (coalescer_.Report(std::move(progress))) WakeWorker();
  }

  void BatchesChanged(std::span<const int64_t> batch_ids) override {
    if (coalescer_.BatchesChanged(std::vector<int64_t>(batch_ids.begin(), batch_ids.end()))) {
      WakeWorker();
    }
  }

  void SessionEventsSuppressed(int64_t batch_id, int64_t count) override {
    {
      MutexLock lock(mu_);
      suppressed_[batch_id] += count;
    }
    // Its next batch.progress reports the count, so there must be a next one.
    const int64_t ids[] = {batch_id};
    BatchesChanged(ids);
  }

  void Trim(std::function<void(Result<int64_t>)> done) override {
    {
      MutexLock lock(mu_);
      if (!stopping_worker_) {
        trims_.push_back(std::move(done));
        wake_.SignalAll();
        return;
      }
    }
    done(Status::Unavailable("the event hub is stopped"));
  }

  int64_t DeliveredSeq() const override { return delivered_seq_.load(); }

  void Stop() override {
    MutexLock stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // The worker first (its last progress round commits events), then the sequencer (a last
    // pass numbers them), then the follower (delivers all that is numbered).
    {
      MutexLock lock(mu_);
      stopping_worker_ = true;
      wake_.SignalAll();
    }
    if (worker_.joinable()) worker_.join();
    stopping_sequencer_.store(true);
    if (sequencer_.joinable()) sequencer_.join();
    stopping_follower_.store(true);
    if (follower_.joinable()) follower_.join();
    stopping_stops_.store(true);
    if (stops_.joinable()) stops_.join();
  }

 private:
  // --- The listening threads ----------------------------------------------------------------

  // Passes until one numbers fewer rows than its limit (the backlog is gone). Whatever woke it
  // (a commit's NOTIFY, the backstop, a reconnect, Stop), a pass looks at every unsequenced row.
  Status RunPasses() {
    while (true) {
      ASSIGN_OR_RETURN(int64_t numbered, RunSequencerPass(*sequencer_conn_, kPassLimit));
      if (numbered < kPassLimit) return Status::Ok();
    }
  }

  // Reads and delivers pages of events after the last delivered until there are no more. A
  // pass commits all its numbers at once and passes run one after another, so whoever sees a
  // seq sees all smaller ones: reading seq > last never skips one.
  Status DeliverNew() {
    while (true) {
      EventQuery query{.after_seq = delivered_seq_.load(), .limit = kFollowerPage};
      ASSIGN_OR_RETURN(EventPage page, ReadEvents(*follower_conn_, query));
      if (page.events.empty()) return Status::Ok();
      if (options_.listener) options_.listener(page.events);
      delivered_seq_.store(page.events.back().seq);
      NoteDelivered(static_cast<int64_t>(page.events.size()));
      if (!page.more) return Status::Ok();
    }
  }

  void HandleStopNotices(const std::vector<PgNotification>& notes) {
    for (const PgNotification& note : notes) {
      std::optional<RemoteStop> stop = ParseRemoteStopPayload(note.payload);
      if (!stop) {
        spdlog::warn("ignoring a malformed {} notification: \"{}\"", kStopChannel, note.payload);
      } else if (options_.on_remote_stop) {
        options_.on_remote_stop(*stop);
      }
    }
  }

  // Retention also runs as soon as the log has grown by a tenth of its bound (at least 100
  // events) since the last run, so a burst never leaves the table far above it.
  void NoteDelivered(int64_t count) {
    const int64_t threshold = std::max<int64_t>(100, options_.events.retention_events / 10);
    if (grown_since_retention_.fetch_add(count) + count >= threshold) {
      MutexLock lock(mu_);
      retention_wanted_ = true;
      wake_.SignalAll();
    }
  }

  // --- The worker: progress and retention ----------------------------------------------------

  void WakeWorker() {
    MutexLock lock(mu_);
    wake_pending_ = true;
    wake_.SignalAll();
  }

  void WorkerLoop() {
    auto next_retention = steady_clock::now() + options_.events.retention_interval;
    while (true) {
      std::vector<std::function<void(Result<int64_t>)>> trims;
      bool retention = false;
      bool stopping = false;
      {
        MutexLock lock(mu_);
        while (!stopping_worker_ && trims_.empty() && !retention_wanted_ && !wake_pending_ &&
               steady_clock::now() < next_retention) {
          milliseconds wait = kMaxWait;
          if (std::optional<milliseconds> due = coalescer_.DueIn()) {
            if (*due <= milliseconds{0}) break;
            wait = std::min(wait, *due);
          }
          wake_.WaitFor(mu_, wait);
        }
        stopping = stopping_worker_;
        trims.swap(trims_);
        retention = retention_wanted_ || !trims.empty() || steady_clock::now() >= next_retention;
        retention_wanted_ = false;
        wake_pending_ = false;
      }
      WriteProgressIfDue();
      if (retention) {
        grown_since_retention_.store(0);
        Result<int64_t> deleted = RunRetention();
        if (!deleted.ok() && worker_conn_->IsBroken()) deleted = RunRetention();  // reconnects
        if (!deleted.ok()) spdlog::warn("event retention failed: {}", deleted.status().ToString());
        for (auto& done : trims) done(deleted);
        next_retention = steady_clock::now() + options_.events.retention_interval;
      }
      if (stopping) break;
    }
  }

  void WriteProgressIfDue() {
    while (coalescer_.StartRoundIfDue()) {
      LiveProgressCoalescer::Round round = coalescer_.TakeRound();
      // Counted before their batch was marked changed: a round that holds the batch holds them.
      std::unordered_map<int64_t, int64_t> suppressed;
      {
        MutexLock lock(mu_);
        suppressed.swap(suppressed_);
      }
      for (const auto& [batch_id, count] : suppressed) progress_.AddSuppressed(batch_id, count);
      if (!EnsureConnected(*worker_conn_)) {
        spdlog::warn("progress events not written: the database is unreachable");
        return;
      }
      Result<int64_t> written = progress_.Write(*worker_conn_, round, options_.clock());
      if (!written.ok() && worker_conn_->IsBroken() && EnsureConnected(*worker_conn_)) {
        written = progress_.Write(*worker_conn_, round, options_.clock());  // once more
      }
      if (!written.ok()) {
        spdlog::warn("progress events not written: {}", written.status().ToString());
      }
      if (!round.more) return;
      // Reports were left for the next round: it starts when the interval allows.
    }
  }

  Result<int64_t> RunRetention() {
    if (!EnsureConnected(*worker_conn_)) {
      return Status::Unavailable("event retention: the database is unreachable");
    }
    const int64_t min_time =
        options_.clock() -
        std::chrono::duration_cast<milliseconds>(options_.events.retention_age).count();
    int64_t total = 0;
    while (true) {
      ASSIGN_OR_RETURN(
          int64_t deleted,
          DeleteExpiredEvents(*worker_conn_, {.max_events = options_.events.retention_events,
                                              .min_time_ms = min_time,
                                              .max_delete = kRetentionSlice,
                                              .delivered_seq = delivered_seq_.load()}));
      total += deleted;
      if (deleted < kRetentionSlice) return total;
    }
  }

  // --- Connections ---------------------------------------------------------------------------

  // The worker's connection holds no LISTEN: a reconnect is all it needs.
  static bool EnsureConnected(PgConnection& conn) {
    if (!conn.IsBroken()) return true;
    Status s = conn.Reconnect();
    if (!s.ok()) spdlog::warn("event hub reconnect failed: {}", s.ToString());
    return s.ok();
  }

  const PgEventHubOptions options_;
  LiveProgressCoalescer coalescer_;
  std::unique_ptr<PgConnection> sequencer_conn_;  // the sequencer thread's
  std::unique_ptr<PgConnection> follower_conn_;   // the follower thread's
  std::unique_ptr<PgConnection> stop_conn_;       // the stop thread's
  std::unique_ptr<PgConnection> worker_conn_;     // the worker thread's
  PgProgressEventWriter progress_;                // the worker thread's

  std::atomic<int64_t> delivered_seq_;
  std::atomic<int64_t> grown_since_retention_{0};
  std::atomic<bool> stopping_sequencer_{false};
  std::atomic<bool> stopping_follower_{false};
  std::atomic<bool> stopping_stops_{false};

  Mutex mu_;
  CondVar wake_;  // the worker waits on it
  bool stopping_worker_ GUARDED_BY(mu_) = false;
  bool wake_pending_ GUARDED_BY(mu_) = false;
  bool retention_wanted_ GUARDED_BY(mu_) = false;
  std::vector<std::function<void(Result<int64_t>)>> trims_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, int64_t> suppressed_ GUARDED_BY(mu_);

  Mutex stop_mu_;
  bool stopped_ GUARDED_BY(stop_mu_) = false;
  std::thread sequencer_;
  std::thread follower_;
  std::thread stops_;
  std::thread worker_;
};

}  // namespace

Result<std::unique_ptr<PgEventHub>> PgEventHub::Start(PgEventHubOptions options) {
  ASSIGN_OR_RETURN(auto sequencer_conn, OpenListening(options.uri, SequencerLoopOptions(options)));
  // LISTEN before reading the latest seq: a pass committing in between is then both above the
  // start point and notified.
  ASSIGN_OR_RETURN(auto follower_conn, OpenListening(options.uri, FollowerLoopOptions(options)));
  ASSIGN_OR_RETURN(int64_t start_seq, LatestEventSeq(*follower_conn));
  ASSIGN_OR_RETURN(auto stop_conn, OpenListening(options.uri, StopLoopOptions()));
  ASSIGN_OR_RETURN(auto worker_conn, PgConnection::Open(options.uri));
  auto hub = std::make_unique<PgEventHubImpl>(std::move(options), std::move(sequencer_conn),
                                              std::move(follower_conn), std::move(stop_conn),
                                              std::move(worker_conn), start_seq);
  hub->StartThreads();
  return std::unique_ptr<PgEventHub>(std::move(hub));
}

}  // namespace batchd::storage::pg
