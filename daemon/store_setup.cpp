#include "daemon/store_setup.h"

#include <unistd.h>

#include <array>

namespace batchd::daemon {
namespace {

std::string HostName() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
}

}  // namespace

storage::NodeIdentity NodeIdentityFor(const ServeConfig& config, int slots) {
  const std::string host = HostName();
  std::string name = config.node_name;
  if (name.empty()) {
    // Stable across restarts of this daemon (the same data dir), distinct between daemons of one
    // machine: a restarted node finds its predecessor's row by it and rescues it at once.
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(config.data_dir, ec);
    name = host + ":" + (ec ? config.data_dir : dir).lexically_normal().string();
  }
  return {.name = std::move(name),
          .host = host,
          .listen = config.host + ":" + std::to_string(config.port),
          .slots = slots};
}

Result<std::unique_ptr<storage::Store>> OpenStateStore(const ServeConfig& config,
                                                       StoreSetup setup) {
  storage::EventLogOptions events;
  events.retention_events = config.event_retention_events;
  events.retention_age = std::chrono::seconds(config.event_retention_seconds);
  events.session_events = {.every_transition_max_sessions = config.event_small_batch,
                           .max_per_second = static_cast<double>(config.event_session_rate)};
  if (storage::IsPgStoreUri(config.store)) {
    storage::PgStoreOptions options;
    options.uri = config.store;
    options.merge_results = std::move(setup.merge_results);
    options.insert_slice_rows = config.insert_slice_rows;
    options.max_active_batches = config.max_active_batches;
    options.events = events;
    options.event_listener = std::move(setup.event_listener);
    options.node = NodeIdentityFor(config, setup.slots);
    options.heartbeat_interval = std::chrono::milliseconds(config.node_heartbeat_ms);
    options.node_timeout = std::chrono::milliseconds(config.node_timeout_ms);
    options.on_remote_stop = std::move(setup.on_remote_stop);
    options.clock = setup.clock;
    return storage::OpenPgStore(options);
  }
  storage::SqliteStoreOptions options;
  options.clock = setup.clock;
  options.merge_results = std::move(setup.merge_results);
  options.db_path = setup.sqlite_path;
  options.insert_slice_rows = config.insert_slice_rows;
  options.max_active_batches = config.max_active_batches;
  options.events = events;
  options.event_listener = std::move(setup.event_listener);
  options.check_integrity = !config.skip_integrity_check;
  options.crash_policy = setup.crash_policy;
  options.node = NodeIdentityFor(config, setup.slots);
  return storage::OpenSqliteStore(options);
}

}  // namespace batchd::daemon
