// The loop each of the event hub's listening threads runs (storage/pg/pg_events.h): wait for
// notifications on a connection of its own, do the thread's work, and survive the server going
// away. No SQL of its own but the LISTENs and the session's setup.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

struct NotificationLoopOptions {
  std::vector<std::string> channels;  // LISTENed again after every reconnect
  // Run after every reconnect, before the LISTENs ("" for none): settings of the session.
  std::string session_setup;
  // `work` runs at least this often without a notification: the backstop for one lost.
  std::chrono::milliseconds backstop{1000};
  const char* name = "event hub";  // for the log
};

// Runs `work` at once, then whenever notifications arrive (it gets them), at least every
// backstop (with none), at once after a reconnect (notifications sent meanwhile are lost), and
// a last time once `stopping` is set; then returns. Between calls it waits on `conn`, looking
// at `stopping` every 100 ms. When the connection breaks it reconnects (backing off up to 2 s)
// and LISTENs again; a failed `work` is logged, and retried at the next wake-up.
// `conn` must already LISTEN (and be set up) when the loop starts.
void RunNotificationLoop(PgConnection& conn, const NotificationLoopOptions& options,
                         const std::atomic<bool>& stopping,
                         const std::function<Status(const std::vector<PgNotification>&)>& work);

// Opens a connection, runs `options.session_setup` and LISTENs on `options.channels`.
Result<std::unique_ptr<PgConnection>> OpenListening(const std::string& uri,
                                                    const NotificationLoopOptions& options);

}  // namespace batchd::storage::pg
