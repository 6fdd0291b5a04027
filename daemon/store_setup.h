// Opens the daemon's state store from its configuration: the embedded SQLite database in the
// data dir, or (--store postgresql://...) the PostgreSQL store shared with other nodes.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "core/clock.h"
#include "core/status.h"
#include "daemon/serve_config.h"
#include "storage/crash_policy.h"
#include "storage/pg/pg_store.h"
#include "storage/store.h"

namespace batchd::daemon {

// What the rest of the daemon hands the store.
struct StoreSetup {
  WallClock clock = UnixMillis;
  storage::ResultMerger merge_results;
  storage::EventListener event_listener;
  std::filesystem::path sqlite_path;  // the data dir's database (embedded store)
  storage::CrashPolicy crash_policy;  // embedded store only (docs/scale-out.md)
  // Sessions running here that another node canceled, or that a rescue took (PostgreSQL only).
  std::function<void(const storage::RemoteStop&)> on_remote_stop;
  int slots = 1;
};

// This daemon as the node table shows it: --node-name or HOST:DATA_DIR, the host name, the
// configured listen address.
storage::NodeIdentity NodeIdentityFor(const ServeConfig& config, int slots);

// Opens the store config.store names. The errors are the stores' own (OpenSqliteStore,
// OpenPgStore).
Result<std::unique_ptr<storage::Store>> OpenStateStore(const ServeConfig& config, StoreSetup setup);

}  // namespace batchd::daemon
