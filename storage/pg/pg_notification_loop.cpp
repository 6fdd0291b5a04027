#include "storage/pg/pg_notification_loop.h"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

namespace batchd::storage::pg {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kMaxWait{100};       // how long a wait lasts before looking at stopping
constexpr milliseconds kMinBackoff{100};    // between reconnect attempts at first
constexpr milliseconds kMaxBackoff{2'000};  // and at most

Status SetUp(PgConnection& conn, const NotificationLoopOptions& options) {
  if (!options.session_setup.empty()) RETURN_IF_ERROR(conn.Run(options.session_setup));
  for (const std::string& channel : options.channels) RETURN_IF_ERROR(conn.Listen(channel));
  return Status::Ok();
}

// Sleeps `duration` unless `stopping` is set meanwhile.
void SleepUnlessStopping(milliseconds duration, const std::atomic<bool>& stopping) {
  const auto until = steady_clock::now() + duration;
  while (!stopping.load()) {
    const auto now = steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(
        std::min(kMaxWait, std::chrono::duration_cast<milliseconds>(until - now)));
  }
}

}  // namespace

Result<std::unique_ptr<PgConnection>> OpenListening(const std::string& uri,
                                                    const NotificationLoopOptions& options) {
  ASSIGN_OR_RETURN(auto conn, PgConnection::Open(uri));
  RETURN_IF_ERROR(SetUp(*conn, options));
  return conn;
}

void RunNotificationLoop(PgConnection& conn, const NotificationLoopOptions& options,
                         const std::atomic<bool>& stopping,
                         const std::function<Status(const std::vector<PgNotification>&)>& work) {
  bool broken = false;
  bool due = true;  // at once: something may have happened before the LISTEN
  std::vector<PgNotification> notes;
  milliseconds backoff{0};
  steady_clock::time_point last_work{};
  while (true) {
    const bool last = stopping.load();
    if (broken) {
      if (last) return;  // nothing to finish on a connection that is gone
      SleepUnlessStopping(backoff, stopping);
      if (stopping.load()) continue;
      Status s = conn.Reconnect();
      if (s.ok()) s = SetUp(conn, options);
      if (!s.ok()) {
        backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
        spdlog::warn("{}: reconnecting failed (next try in {} ms): {}", options.name,
                     backoff.count(), s.ToString());
        continue;
      }
      spdlog::info("{}: reconnected to PostgreSQL", options.name);
      backoff = milliseconds{0};
      broken = false;
      due = true;  // notifications sent while it was away are lost
    }
    if (due || last || steady_clock::now() - last_work >= options.backstop) {
      due = false;
      last_work = steady_clock::now();
      Status s = work(notes);
      notes.clear();
      if (!s.ok()) {
        spdlog::warn("{}: {}", options.name, s.ToString());
        if (conn.IsBroken()) {
          broken = true;
          continue;
        }
      }
    }
    if (last) return;
    auto arrived = conn.WaitForNotifications(std::min(options.backstop, kMaxWait));
    if (!arrived.ok()) {
      spdlog::warn("{}: lost its connection: {}", options.name, arrived.status().ToString());
      broken = true;
      continue;
    }
    if (!arrived->empty()) {
      notes = std::move(arrived).value();
      due = true;
    }
  }
}

}  // namespace batchd::storage::pg
