// The PostgreSQL store: the scale-out engine (docs/scale-out.md). Same contract as the embedded
// SQLite store (storage/store.h), for many daemons ("nodes") on one database:
//   - each node registers a row in `node` and heartbeats it (storage/pg/pg_nodes.h); sessions in
//     progress record their node, and a node whose heartbeat is older than node_timeout has its
//     sessions requeued by a survivor, exactly once (rescue);
//   - claims lock the batch row they claim from (FOR UPDATE SKIP LOCKED over the batches), so
//     max_running is exact over all nodes and nodes never wait on each other;
//   - outcomes apply only while the session is still in progress on this node, so a node that
//     lost its sessions to a rescue can never finish one twice;
//   - events are written in the transactions of their changes and numbered after commit by one
//     sequencer, so every node's stream (LISTEN/NOTIFY wake-ups plus reads by seq) is the same;
//   - a cancel or a rescue reaches the node running the session by NOTIFY (on_remote_stop).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "storage/event_log_options.h"
#include "storage/store.h"

namespace batchd::storage {

// Sessions this node must stop running: canceled by a request to another node, or taken from
// it by a rescue (it was thought dead). Exactly one of the fields is set.
struct RemoteStop {
  std::optional<int64_t> session_id;
  std::optional<std::string> batch_public_id;
};

struct PgStoreOptions {
  std::string uri;             // postgresql://USER@HOST:PORT/DB
  ResultMerger merge_results;  // may be empty
  int connections = 4;         // the query/mutation pool; claims, outcomes, events have their own
  uint64_t insert_slice_rows = 65536;
  uint64_t max_active_batches = 0;
  size_t queue_limit = 4096;
  EventLogOptions events;
  EventListener event_listener;
  NodeIdentity node;
  std::chrono::milliseconds heartbeat_interval{1000};
  // A node whose heartbeat is older than this is dead: a survivor rescues its sessions.
  std::chrono::milliseconds node_timeout{10'000};
  // Called on a store thread for sessions running here that must stop (RemoteStop). Must not
  // block; the scheduler cancels them (their outcomes then find the session gone).
  std::function<void(const RemoteStop&)> on_remote_stop;
  WallClock clock = UnixMillis;
};

// Connects, applies migrations/postgres/ under an advisory lock, registers this node (rescuing
// at once the sessions of an earlier node of the same name, which this one replaces), and starts
// the store's threads. kUnavailable if the server cannot be reached; kFailedPrecondition if the
// database was written by a newer batchd.
Result<std::unique_ptr<Store>> OpenPgStore(const PgStoreOptions& options);

// Whether `store` names the PostgreSQL engine (postgresql:// or postgres://).
bool IsPgStoreUri(std::string_view store);

}  // namespace batchd::storage
