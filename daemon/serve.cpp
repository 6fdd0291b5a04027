#include "daemon/serve.h"

#include <atomic>
#include <csignal>
#include <functional>

#include <spdlog/spdlog.h>

#include "api/event_hub.h"
#include "api/routes.h"
#include "api/server.h"
#include "core/clock.h"
#include "core/worker_pool.h"
#include "daemon/access_setup.h"
#include "daemon/crash_marker.h"
#include "daemon/data_dir.h"
#include "daemon/fd_limit.h"
#include "daemon/result_folding.h"
#include "daemon/scheduler.h"
#include "daemon/session_log_files.h"
#include "daemon/store_setup.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/command_op.h"
#include "pipeline/ops/op_registry.h"
#include "pipeline/process/process_records.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/s3/s3_credentials.h"
#include "pipeline/stores/s3/s3_store.h"
#include "storage/store.h"

#include <thread>

namespace batchd::daemon {
namespace {

// Parsing and validating submitted batches: CPU work that must stay off the HTTP threads.
constexpr int kValidationThreads = 2;
constexpr size_t kValidationQueueLimit = 256;
// Decode tasks are queued with SubmitAlways (bounded by the sessions' reads in flight), so
// this limit only applies to Submit, which the pipeline does not use.
constexpr size_t kDecodeQueueLimit = 1024;

// Descriptors beyond the connections: the database, chunk stores, pipes, the listener.
constexpr uint64_t kSpareDescriptors = 512;

// Waits for SIGINT or SIGTERM and returns it; a SIGHUP meanwhile runs `on_hangup`. The signals
// are blocked in every thread (main.cpp), so only this sigwait receives them.
// The store URI without a password (postgresql://user:secret@host/db -> postgresql://user@host/db).
std::string RedactedStore(const std::string& uri) {
  size_t scheme = uri.find("://");
  size_t at = uri.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return uri;
  size_t colon = uri.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon) + uri.substr(at);
}

int WaitForStopSignal(const std::function<void()>& on_hangup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) return sig;
    on_hangup();
  }
}

}  // namespace

int RunServe(const ServeConfig& config) {
  // Access first: a bad token file is a configuration mistake, refused before anything opens.
  Result<std::unique_ptr<api::RequestGate>> gate = MakeRequestGate(config);
  if (!gate.ok()) {
    spdlog::critical("{}", gate.status().message());
    return 2;
  }
  RaiseOpenFileLimit(config.max_connections + api::kMaxRefusingConnections + kSpareDescriptors);
  Result<DataDir> dir = DataDir::Open(config.data_dir);
  if (!dir.ok()) {
    spdlog::critical("{}", dir.status().message());
    return 1;
  }
  // Declared before the store: the store's event publisher delivers into it until the store
  // closes.
  api::EventHub events(config.event_max_subscribers);
  // Ops first: the store folds completed sessions' results with them.
  pipeline::TimerService timers;
  pipeline::OpRegistry ops;
  // The one wall clock everything that stores or compares times reads (core/clock.h).
  const WallClock clock = UnixMillis;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int slots = config.slots > 0 ? config.slots : cores;
  // The store's threads reach the scheduler (another node's cancel, a rescue that took sessions
  // from this node, other nodes' events that may mean work here); the store opens before the
  // scheduler exists, so the target is set once it does.
  auto scheduler_target = std::make_shared<std::atomic<Scheduler*>>(nullptr);
  StoreSetup store_setup{
      .clock = clock,
      .merge_results = MakeResultMerger(ops),
      .event_listener =
          [&events, scheduler_target,
           shared = !config.store.empty()](const std::vector<storage::EventRecord>& batch) {
            events.Publish(batch);
            // A shared store's events include other nodes' changes: new batches, resumed or
            // retried ones, sessions rescued or freed under max_running. Each may be work here.
            if (Scheduler* scheduler = scheduler_target->load(); shared && scheduler) {
              scheduler->Wake();
            }
          },
      .sqlite_path = dir->DatabasePath(),
      .on_remote_stop =
          [scheduler_target](const storage::RemoteStop& stop) {
            Scheduler* scheduler = scheduler_target->load();
            if (scheduler == nullptr) return;
            if (stop.session_id) scheduler->CancelRunningSession(*stop.session_id);
            if (stop.batch_public_id) scheduler->CancelRunningBatch(*stop.batch_public_id);
          },
      .slots = slots};
  // A crash of the daemon's own (not a kill) makes the sessions it left in progress suspects.
  Result<bool> crashed = TakeCrashMarker(dir->CrashMarkerPath());
  if (!crashed.ok()) {
    spdlog::critical("{}", crashed.status().message());
    return 1;
  }
  if (*crashed) spdlog::warn("the previous run died of a fatal signal (see its log)");
  // Programs a dead daemon left running are killed before their sessions go back to the queue
  // (which opening the store does), so none runs twice at once and none is orphaned.
  Result<int> leftovers =
      pipeline::ProcessRecords(pipeline::CommandProcessRecordsDir(dir->CommandDir()))
          .KillLeftovers();
  if (!leftovers.ok()) {
    spdlog::critical("{}", leftovers.status().message());
    return 1;
  }
  if (*leftovers > 0) {
    spdlog::warn("killed {} command process group(s) left running by the previous run", *leftovers);
  }
  store_setup.crash_policy = {.previous_run_crashed = *crashed,
                              .quarantine_after = config.quarantine_after_crashes};
  Result<std::unique_ptr<storage::Store>> store = OpenStateStore(config, std::move(store_setup));
  if (!store.ok()) {
    spdlog::critical("{}", store.status().message());
    return 1;
  }
  if (Status armed = ArmCrashMarker(dir->CrashMarkerPath()); !armed.ok()) {
    spdlog::critical("{}", armed.message());
    return 1;
  }

  pipeline::RegisterBuiltinOps(ops, timers);

  // The chunk pipeline: registries of codecs, stores and formats, and one decode pool that
  // every session shares (docs/pipeline.md).
  pipeline::CodecRegistry codecs;
  pipeline::RegisterBuiltinCodecs(codecs);
  pipeline::StoreRegistry stores;
  Result<std::shared_ptr<pipeline::HttpAllowlist>> http_allow =
      pipeline::HttpAllowlist::Create(config.http_allow);
  if (!http_allow.ok()) {  // ParseServeArgs checked every entry
    spdlog::critical("{}", http_allow.status().message());
    return 2;
  }
  // Port 0 until the server has bound one: until then every port of the own address counts.
  (*http_allow)->SetOwnEndpoint(config.host, config.port);
  // s3:// keys come from the daemon's own flags and environment, never from a batch.
  Result<pipeline::S3Identity> s3_identity =
      pipeline::ResolveS3Identity({.anonymous = config.s3_anonymous,
                                   .credentials_file = config.s3_credentials,
                                   .profile = config.s3_profile,
                                   .region = config.s3_region});
  if (!s3_identity.ok()) {
    spdlog::critical("{}", s3_identity.status().message());
    return 2;
  }
  auto s3 = std::make_shared<pipeline::S3Settings>();
  s3->endpoint = config.s3_endpoint;
  s3->region = s3_identity->region;
  s3->credentials = std::move(s3_identity->credentials);
  spdlog::info(
      "s3:// stores: endpoint {}, region {}, credentials from {}",
      s3->endpoint.empty() ? "AWS (https://<bucket>.s3.<region>.amazonaws.com)" : s3->endpoint,
      s3->region, s3_identity->source);
  pipeline::RegisterBuiltinStores(stores,
                                  {.file_roots = config.file_roots,
                                   .http_max_in_flight = config.http_max_in_flight,
                                   .http_initial_in_flight = config.http_initial_in_flight,
                                   .http_default_in_flight = config.http_default_in_flight,
                                   .http_ca_file = config.ca_file,
                                   .http_allowlist = *http_allow},
                                  std::move(s3));
  pipeline::FormatRegistry formats;
  pipeline::RegisterBuiltinFormats(formats, codecs);
  const int decode_threads = config.decode_threads > 0 ? config.decode_threads : cores;
  WorkerPool decode(decode_threads, kDecodeQueueLimit);
  const pipeline::ChunkServices chunk_services{
      .stores = stores,
      .formats = formats,
      .codecs = codecs,
      .decode = decode,
      .decode_threads = decode_threads,
      .defaults = {.fetch_concurrency = config.fetch_concurrency,
                   .bytes_in_flight = config.bytes_in_flight,
                   .checkpoint_interval_ms = config.checkpoint_interval_ms},
      .max_chunk_bytes = config.max_chunk_bytes,
      .max_session_chunks = config.max_session_chunks};
  pipeline::RegisterChunkOps(ops, chunk_services);
  Result<pipeline::CommandAllowlist> allow_commands =
      pipeline::CommandAllowlist::Create(config.allow_commands);
  if (!allow_commands.ok()) {  // ParseServeArgs checked every entry; one may have gone since
    spdlog::critical("{}", allow_commands.status().message());
    return 2;
  }
  if (allow_commands->empty()) {
    spdlog::info("no --allow-command given: the command op is refused");
  }
  pipeline::RegisterCommandOp(ops, {.allow = std::move(*allow_commands),
                                    .work_dir = dir->CommandDir(),
                                    .kill_grace = std::chrono::milliseconds(config.kill_grace_ms),
                                    .limits = {.address_space_bytes = config.command_rlimit_as,
                                               .cpu_seconds = config.command_rlimit_cpu,
                                               .open_files = config.command_rlimit_nofile},
                                    .log_bytes_per_session = config.log_bytes_per_session,
                                    .chunks = &chunk_services});
  if (config.file_roots.empty()) {
    spdlog::info("no --file-root given: file:// sources and sinks are refused");
  }
  if (config.http_allow.empty()) {
    spdlog::info(
        "no --http-allow given: http://, https:// and s3:// sources and sinks are refused");
  }
  Scheduler scheduler(**store, ops,
                      {.slots = slots,
                       .exec_threads = cores,
                       .retry_base_ms = config.retry_backoff_ms,
                       .clock = clock,
                       .idle_claim_interval_ms = config.store.empty() ? 0 : 1000});

  scheduler_target->store(&scheduler);
  WorkerPool validation(kValidationThreads, kValidationQueueLimit);
  SessionLogFiles logs(**store, {.work_dir = dir->CommandDir(),
                                 .max_wait = std::chrono::milliseconds(config.log_follow_wait_ms)});
  logs.SweepDeletedBatches();
  api::Router router;
  api::RegisterRoutes(router, {.store = **store,
                               .cpu = validation,
                               .scheduler = scheduler,
                               .ops = ops,
                               .options = {.max_sessions_per_batch = config.max_sessions_per_batch,
                                           .max_page_bytes = config.max_page_bytes},
                               .events = &events,
                               .clock = clock,
                               .logs = &logs});

  api::ServerOptions server_options;
  server_options.host = config.host;
  server_options.port = config.port;
  server_options.threads = config.http_threads;
  server_options.gate = gate->get();
  server_options.max_body_bytes = config.max_body_bytes;
  server_options.max_header_bytes = static_cast<uint32_t>(config.max_header_bytes);
  server_options.max_connections = config.max_connections;
  server_options.pipeline_limit = config.http_pipeline_limit;
  server_options.idle_timeout = std::chrono::milliseconds(config.http_idle_timeout_ms);
  server_options.events = {.hub = &events,
                           .store = store->get(),
                           .stream = {.queue_limit = config.event_queue_limit},
                           .ping_interval = std::chrono::milliseconds(config.event_ping_ms)};
  Result<std::unique_ptr<api::Server>> server = api::Server::Start(server_options, router);
  if (!server.ok()) {
    spdlog::critical("{}", server.status().message());
    return 1;
  }
  (*http_allow)->SetOwnEndpoint(config.host, (*server)->port());
  // Started once the own port is known, so no session (a recovered one, say) runs while the
  // allowlist still refuses every port of the own address.
  scheduler.Start();
  if (Status s = dir->WritePortFile((*server)->port()); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("batchd listening on {}:{} with database {}", config.host, (*server)->port(),
               config.store.empty() ? dir->DatabasePath().string() : RedactedStore(config.store));

  const int sig = WaitForStopSignal([&] { ReloadTokenFile(config, **gate); });
  spdlog::info("received {}, stopping", strsignal(sig));
  dir->RemovePortFile();
  // Order matters: stop taking requests and answer those in flight (they still need the
  // validation pool, the scheduler and the store); then stop the scheduler (running sessions
  // finish or are interrupted, and their outcomes are recorded); then drain the pool; then let
  // the store commit its queued writes and close the database. The server object (its
  // io_context) outlives the store, so late store callbacks still have somewhere to post.
  logs.Stop();  // waiting log follows answer now, so the server's stop does not wait for them
  (*server)->Stop();
  scheduler.Stop();
  scheduler_target->store(nullptr);
  decode.Stop();  // after the scheduler: running sessions decode until they end
  validation.Stop();
  (*store)->Close();
  timers.Stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace batchd::daemon
