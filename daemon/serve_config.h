// `batchd serve` configuration: every setting is a flag and an environment variable
// (BATCHD_<NAME>); a flag wins over the variable, the variable over the default.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchd::daemon {

struct ServeConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::filesystem::path data_dir = "var";
  // The state store: empty for the embedded SQLite database in data_dir, or
  // postgresql://USER@HOST:PORT/DB for many nodes on one database (docs/scale-out.md).
  std::string store;
  std::string node_name;             // empty: HOST:DATA_DIR (stable across restarts)
  int64_t node_timeout_ms = 10'000;  // a node silent this long is dead; its sessions are rescued
  int64_t node_heartbeat_ms = 1000;
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one JSON object per line (json_log_formatter.h)
  uint64_t max_sessions_per_batch = 10'000'000;
  uint64_t max_body_bytes = 8 << 20;
  uint64_t max_page_bytes = 4 << 20;  // list pages end early past this (api/page_budget.h)
  // Access (docs/api.md, "Authentication"). With a token file every request but /healthz and
  // the dashboard's files needs a bearer token; without one, only a loopback --listen address
  // is accepted.
  std::filesystem::path token_file;        // empty: no authentication
  std::vector<std::string> cors_origins;   // exact origins allowed to call from a browser
  std::vector<std::string> allowed_hosts;  // Host names answered without tokens, besides loopback
  // Limits of the HTTP server (docs/api.md, "Limits").
  uint64_t max_header_bytes = 16 << 10;
  uint64_t max_connections = 2048;
  uint64_t http_pipeline_limit = 8;
  int64_t http_idle_timeout_ms = 60'000;
  uint64_t max_active_batches = 10'000;
  int http_threads = 2;
  uint64_t insert_slice_rows = 65536;
  int slots = 0;  // 0: the number of cores
  int64_t retry_backoff_ms = 1000;
  // Chunk ops (docs/pipeline.md). file:// sources and sinks must lie under one of these roots;
  // with none, every file:// URL is refused.
  std::vector<std::filesystem::path> file_roots;
  // Hosts http:// sources and sinks may reach (HOST, HOST:PORT, *.domain, [IPv6]:PORT); with
  // none, every http:// URL is refused. The daemon's own address always is.
  std::vector<std::string> http_allow;
  std::string ca_file;  // https://: the CAs to trust instead of the system's; empty: the system's
  // s3:// stores (docs/pipeline.md, "s3://"); the keys come from --s3-credentials or the AWS_*
  // variables of the daemon's environment (pipeline/stores/s3/s3_credentials.h).
  std::string s3_endpoint;                // http(s)://host[:port], path-style; empty: AWS
  std::string s3_region;                  // empty: AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  std::string s3_credentials;             // an ini file like ~/.aws/credentials; empty: environment
  std::string s3_profile = "default";     // its section
  bool s3_anonymous = false;              // sign nothing, whatever keys there are
  int decode_threads = 0;                 // 0: the number of cores
  int fetch_concurrency = 64;             // a job's default reads in flight
  int64_t bytes_in_flight = 64ll << 20;   // a job's default byte budget
  int64_t max_chunk_bytes = 128ll << 20;  // the largest decoded chunk a session may have
  int64_t max_session_chunks = 1ll << 32;  // the most chunks one session's region may cover
  int64_t quarantine_after_crashes = 3;
  bool skip_integrity_check = false;  // no PRAGMA quick_check at start (huge databases)    // fatal
                                      // crashes in progress before a session errs
  int http_max_in_flight = 64;        // requests in flight per http(s):// store and host
  int http_initial_in_flight = 4;     // connections a host starts with (grows on keep-alive)
  int http_default_in_flight = 8;     // a job's default reads in flight on an http(s):// source
  int64_t checkpoint_interval_ms = 1000;  // how often a running chunk session saves its cursor
  // The event stream (docs/api.md, "Events").
  int64_t event_retention_events = 1'000'000;
  int64_t event_retention_seconds = 24 * 3600;
  uint64_t event_queue_limit = 1024;
  int64_t event_ping_ms = 15'000;
  uint64_t event_max_subscribers = 1000;
  uint64_t event_small_batch = 1000;
  uint64_t event_session_rate = 1000;
  // The command op (docs/command.md). No --allow-command: the op is refused at submit.
  std::vector<std::string> allow_commands;   // absolute executables or directories of them
  int64_t kill_grace_ms = 5000;              // SIGTERM to SIGKILL for a canceled program
  uint64_t command_rlimit_as = 0;            // bytes of address space; 0: the daemon's
  uint64_t command_rlimit_cpu = 0;           // CPU seconds; 0: the daemon's
  uint64_t command_rlimit_nofile = 1024;     // open files; 0: the daemon's (raised, see fd_limit)
  uint64_t log_bytes_per_session = 8 << 20;  // a session's stdout and stderr files together
  int64_t log_follow_wait_ms = 20'000;       // the longest a log follow (long poll) waits
  bool help = false;                         // --help was given: print ServeHelp() and exit 0
};

// Parses the arguments after "serve". `getenv` is injectable for tests.
// kInvalidArgument naming the flag (or variable) on a bad value or an unknown flag, and naming
// --listen for an address other than loopback without a --token-file (anyone who can reach it
// could submit and cancel work).
Result<ServeConfig> ParseServeArgs(const std::vector<std::string>& args,
                                   const char* (*getenv)(const char*) = nullptr);

// Whether `host` is a numeric loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z).
bool IsLoopbackAddress(const std::string& host);

// The text of `batchd serve --help`.
std::string ServeHelp();

}  // namespace batchd::daemon
