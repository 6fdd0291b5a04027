#include "daemon/serve_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <utility>

#include "api/cors_policy.h"
#include "core/host_port.h"
#include "pipeline/process/command_allowlist.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/http_client.h"
#include "pipeline/stores/s3/s3_store.h"

namespace batchd::daemon {
namespace {

struct Option {
  const char* flag;  // "--listen"
  const char* env;   // "BATCHD_LISTEN"
  const char* value_name;
  const char* help;
  std::function<Status(ServeConfig&, const std::string&)> apply;
};

// The non-empty items of a ','-separated list, spaces around each trimmed (a variable's list, or
// one flag's value).
std::vector<std::string> CommaList(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    const size_t comma = std::min(v.find(',', start), v.size());
    std::string item = v.substr(start, comma - start);
    start = comma + 1;
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
  }
  return out;
}

Result<uint64_t> ParseCount(const std::string& text, const char* what, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    return Status::InvalidArgument(std::string(what) + " must be an integer from " +
                                       std::to_string(min) + " to " + std::to_string(max) +
                                       ", got '" + text + "'",
                                   what);
  }
  return v;
}

Status ParseListen(ServeConfig& c, const std::string& text) {
  Result<HostPort> split = ParseHostPort(text);
  if (!split.ok()) {
    return Status::InvalidArgument("--listen '" + text + "' " + split.status().message(),
                                   "--listen");
  }
  if (split->host.empty() || !split->port) {
    return Status::InvalidArgument("--listen must be HOST:PORT, got '" + text + "'", "--listen");
  }
  c.host = split->host;  // [::1]:8080 -> ::1
  c.port = *split->port;
  return Status::Ok();
}

const std::vector<Option>& Options() {
  static const std::vector<Option> kOptions = {
      {"--listen", "BATCHD_LISTEN", "HOST:PORT",
       "address to serve on (default 127.0.0.1:8080); port 0 picks a free port, written to "
       "DATA_DIR/batchd.port",
       ParseListen},
      {"--data-dir", "BATCHD_DATA_DIR", "DIR",
       "where the SQLite database batchd.db lives (default ./var, created if missing)",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty()) return Status::InvalidArgument("--data-dir is empty", "--data-dir");
         c.data_dir = v;
         return Status::Ok();
       }},
      {"--store", "BATCHD_STORE", "URI",
       "the state store: empty (default) for the embedded SQLite database in DATA_DIR, or "
       "postgresql://USER@HOST:PORT/DB to share one PostgreSQL database with other nodes "
       "(docs/scale-out.md)",
       [](ServeConfig& c, const std::string& v) {
         if (!v.empty() && !v.starts_with("postgresql://") && !v.starts_with("postgres://")) {
           return Status::InvalidArgument(
               "--store takes a postgresql://USER@HOST:PORT/DB URI (or nothing for the embedded "
               "SQLite database), got '" +
                   v + "'",
               "--store");
         }
         c.store = v;
         return Status::Ok();
       }},
      {"--node-name", "BATCHD_NODE_NAME", "NAME",
       "this node's name among the nodes of one PostgreSQL store, unique and kept across "
       "restarts (default HOST:DATA_DIR)",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty() || v.size() > 200) {
           return Status::InvalidArgument("--node-name takes 1 to 200 characters", "--node-name");
         }
         c.node_name = v;
         return Status::Ok();
       }},
      {"--node-timeout-ms", "BATCHD_NODE_TIMEOUT_MS", "MS",
       "a node whose heartbeat is older than this is dead: another node requeues its sessions "
       "(PostgreSQL store; default 10000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--node-timeout-ms", 500, 3'600'000));
         c.node_timeout_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--node-heartbeat-ms", "BATCHD_NODE_HEARTBEAT_MS", "MS",
       "how often a node writes its heartbeat (PostgreSQL store; default 1000, below "
       "--node-timeout-ms)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--node-heartbeat-ms", 50, 600'000));
         c.node_heartbeat_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--log-level", "BATCHD_LOG_LEVEL", "LEVEL",
       "trace, debug, info (default), warn, error or off",
       [](ServeConfig& c, const std::string& v) {
         static const std::vector<std::string> kLevels = {"trace", "debug", "info",
                                                          "warn",  "error", "off"};
         if (std::find(kLevels.begin(), kLevels.end(), v) == kLevels.end()) {
           return Status::InvalidArgument(
               "--log-level must be one of trace, debug, info, "
               "warn, error, off; got '" +
                   v + "'",
               "--log-level");
         }
         c.log_level = v;
         return Status::Ok();
       }},
      {"--log-format", "BATCHD_LOG_FORMAT", "FORMAT",
       "text (default) or json: one JSON object per line with time, level and message",
       [](ServeConfig& c, const std::string& v) {
         if (v != "text" && v != "json") {
           return Status::InvalidArgument("--log-format must be text or json, got '" + v + "'",
                                          "--log-format");
         }
         c.log_format = v;
         return Status::Ok();
       }},
      {"--max-sessions-per-batch", "BATCHD_MAX_SESSIONS_PER_BATCH", "N",
       "refuse batches expanding to more sessions (default 10000000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_sessions_per_batch,
                          ParseCount(v, "--max-sessions-per-batch", 1, INT64_MAX));
         return Status::Ok();
       }},
      {"--max-body-bytes", "BATCHD_MAX_BODY_BYTES", "N",
       "refuse request bodies larger than this (default 8388608)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_body_bytes, ParseCount(v, "--max-body-bytes", 1, 1ull << 32));
         return Status::Ok();
       }},
      {"--max-page-bytes", "BATCHD_MAX_PAGE_BYTES", "N",
       "the JSON one page of a list may hold (batches, sessions, events); a page ends early, "
       "with its cursor, before the item that would pass it (default 4194304)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_page_bytes, ParseCount(v, "--max-page-bytes", 1024, 1ull << 30));
         return Status::Ok();
       }},
      {"--token-file", "BATCHD_TOKEN_FILE", "FILE",
       "bearer tokens, one per line as admin:TOKEN or read:TOKEN; with it every request but "
       "/healthz and the dashboard's files needs one (SIGHUP reloads it); without it, only a "
       "loopback --listen address is accepted",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty()) return Status::InvalidArgument("--token-file is empty", "--token-file");
         c.token_file = v;
         return Status::Ok();
       }},
      {"--cors-origin", "BATCHD_CORS_ORIGINS", "ORIGIN",
       "a web origin (scheme://host[:port]) whose pages may call the API from a browser "
       "(repeatable; the variable takes a ','-separated list); default none",
       [](ServeConfig& c, const std::string& v) {
         for (const std::string& origin : CommaList(v)) {
           RETURN_IF_ERROR(api::CorsPolicy::CheckOrigin(origin));
           c.cors_origins.push_back(origin);
         }
         return Status::Ok();
       }},
      {"--allowed-host", "BATCHD_ALLOWED_HOSTS", "NAME",
       "without --token-file, a Host name (no port) the daemon answers besides localhost, "
       "127.0.0.0/8 and [::1] (repeatable; the variable takes a ','-separated list); default none",
       [](ServeConfig& c, const std::string& v) {
         for (const std::string& name : CommaList(v)) {
           if (name.find_first_of(":/[] ") != std::string::npos) {
             return Status::InvalidArgument(
                 "--allowed-host takes a host name without a port or scheme, got '" + name + "'",
                 "--allowed-host");
           }
           c.allowed_hosts.push_back(name);
         }
         return Status::Ok();
       }},
      {"--max-header-bytes", "BATCHD_MAX_HEADER_BYTES", "N",
       "refuse requests whose headers are larger than this with 431 (default 16384)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_header_bytes, ParseCount(v, "--max-header-bytes", 1024, 1 << 20));
         return Status::Ok();
       }},
      {"--max-connections", "BATCHD_MAX_CONNECTIONS", "N",
       "connections open at once, HTTP and WebSocket; one more is answered 503 and closed "
       "(default 2048)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_connections, ParseCount(v, "--max-connections", 1, 1 << 20));
         return Status::Ok();
       }},
      {"--http-pipeline-limit", "BATCHD_HTTP_PIPELINE_LIMIT", "N",
       "requests read from one connection ahead of their answers; at the limit it is not read "
       "until one is answered (default 8)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.http_pipeline_limit, ParseCount(v, "--http-pipeline-limit", 1, 1024));
         return Status::Ok();
       }},
      {"--http-idle-timeout-ms", "BATCHD_HTTP_IDLE_TIMEOUT_MS", "MS",
       "close a connection that has no request in flight and sends no complete request for "
       "this long (default 60000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--http-idle-timeout-ms", 100, 86'400'000));
         c.http_idle_timeout_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--max-active-batches", "BATCHD_MAX_ACTIVE_BATCHES", "N",
       "batches not yet finished (enqueuing, queued, running, paused) at once; one more "
       "submission is answered 429 (default 10000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.max_active_batches,
                          ParseCount(v, "--max-active-batches", 1, 1'000'000'000));
         return Status::Ok();
       }},
      {"--http-threads", "BATCHD_HTTP_THREADS", "N", "threads serving HTTP (default 2)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--http-threads", 1, 256));
         c.http_threads = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--insert-slice-rows", "BATCHD_INSERT_SLICE_ROWS", "N",
       "sessions written per transaction when storing a batch (default 65536)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.insert_slice_rows, ParseCount(v, "--insert-slice-rows", 1, 1 << 24));
         return Status::Ok();
       }},
      {"--slots", "BATCHD_SLOTS", "N",
       "sessions in progress at once, over all batches (default: the number of cores)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--slots", 1, 1 << 20));
         c.slots = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--retry-backoff-ms", "BATCHD_RETRY_BACKOFF_MS", "MS",
       "first retry delay after a transient failure, doubled per attempt (default 1000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--retry-backoff-ms", 0, 3'600'000));
         c.retry_backoff_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--file-root", "BATCHD_FILE_ROOTS", "DIR",
       "a directory file:// sources and sinks may use, with everything under it (repeatable; "
       "the variable takes a ':'-separated list); with none, file:// URLs are refused",
       [](ServeConfig& c, const std::string& v) {
         size_t start = 0;
         while (start <= v.size()) {
           const size_t colon = std::min(v.find(':', start), v.size());
           const std::string dir = v.substr(start, colon - start);
           if (!dir.empty()) c.file_roots.emplace_back(dir);
           start = colon + 1;
         }
         return Status::Ok();
       }},
      {"--http-allow", "BATCHD_HTTP_ALLOW", "HOST[:PORT]",
       "a host http:// and https:// sources and sinks may reach: a name, *.domain (its "
       "subdomains), an IPv4 address or [IPv6]; without a port any port (repeatable; the "
       "variable takes a ','-separated list); default none, so http(s):// is refused; the "
       "daemon's own address always is",
       [](ServeConfig& c, const std::string& v) {
         for (const std::string& entry : CommaList(v)) {
           RETURN_IF_ERROR(pipeline::HttpAllowlist::Create({entry}).status());
           c.http_allow.push_back(entry);
         }
         return Status::Ok();
       }},
      {"--ca-file", "BATCHD_CA_FILE", "FILE",
       "a PEM file of the CA certificates https:// servers must be signed by, instead of the "
       "system's CA store (a private CA); certificates and host names are verified either way",
       [](ServeConfig& c, const std::string& v) {
         if (Status loadable = pipeline::CheckCaFile(v); !loadable.ok()) {
           return Status::InvalidArgument("--ca-file: " + loadable.message(), "--ca-file");
         }
         c.ca_file = v;
         return Status::Ok();
       }},
      {"--s3-endpoint", "BATCHD_S3_ENDPOINT", "URL",
       "http(s)://host[:port] of an S3-compatible service (MinIO, Ceph, R2, ...) for s3:// "
       "stores, addressed path-style (URL/bucket/key); its host must be in --http-allow; "
       "default: AWS (https://<bucket>.s3.<region>.amazonaws.com)",
       [](ServeConfig& c, const std::string& v) {
         if (Status valid = pipeline::CheckS3Endpoint(v); !valid.ok()) {
           return Status::InvalidArgument(valid.message(), "--s3-endpoint");
         }
         c.s3_endpoint = v;
         return Status::Ok();
       }},
      {"--s3-region", "BATCHD_S3_REGION", "REGION",
       "the region s3:// requests are signed for (default: AWS_REGION, AWS_DEFAULT_REGION, "
       "us-east-1)",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty() ||
             v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
           return Status::InvalidArgument(
               "--s3-region must be a region name like eu-west-1, got '" + v + "'", "--s3-region");
         }
         c.s3_region = v;
         return Status::Ok();
       }},
      {"--s3-credentials", "BATCHD_S3_CREDENTIALS", "FILE",
       "an ini file like ~/.aws/credentials whose --s3-profile section has the keys s3:// "
       "requests are signed with; default: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
       "AWS_SESSION_TOKEN from the daemon's environment, and with neither, anonymous",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty()) {
           return Status::InvalidArgument("--s3-credentials is empty", "--s3-credentials");
         }
         c.s3_credentials = v;
         return Status::Ok();
       }},
      {"--s3-profile", "BATCHD_S3_PROFILE", "NAME",
       "the section of --s3-credentials to use (default \"default\")",
       [](ServeConfig& c, const std::string& v) {
         if (v.empty()) return Status::InvalidArgument("--s3-profile is empty", "--s3-profile");
         c.s3_profile = v;
         return Status::Ok();
       }},
      {"--s3-anonymous", "BATCHD_S3_ANONYMOUS", "yes|no",
       "send s3:// requests unsigned (public buckets), even if credentials are configured "
       "(default no)",
       [](ServeConfig& c, const std::string& v) {
         if (v != "yes" && v != "no") {
           return Status::InvalidArgument("--s3-anonymous takes yes or no, got '" + v + "'",
                                          "--s3-anonymous");
         }
         c.s3_anonymous = v == "yes";
         return Status::Ok();
       }},
      {"--decode-threads", "BATCHD_DECODE_THREADS", "N",
       "threads decoding chunks, shared by all sessions (default: the number of cores)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--decode-threads", 1, 1024));
         c.decode_threads = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--fetch-concurrency", "BATCHD_FETCH_CONCURRENCY", "N",
       "chunk reads in flight per session when a job sets no limits.fetch_concurrency "
       "(default 64)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--fetch-concurrency", 1, 1024));
         c.fetch_concurrency = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--bytes-in-flight", "BATCHD_BYTES_IN_FLIGHT", "N",
       "chunk bytes in flight per session when a job sets no limits.bytes_in_flight "
       "(default 67108864)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--bytes-in-flight", 4096, 1ull << 32));
         c.bytes_in_flight = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--max-chunk-bytes", "BATCHD_MAX_CHUNK_BYTES", "N",
       "the largest decoded chunk a session may have; an array with larger chunks ends its "
       "session in an error naming this limit (default 134217728)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--max-chunk-bytes", 4096, 2ull << 30));
         c.max_chunk_bytes = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--max-session-chunks", "BATCHD_MAX_SESSION_CHUNKS", "N",
       "the most chunks one session's region may cover; more ends the session in an error "
       "naming this limit (default 4294967296)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--max-session-chunks", 1, 1ull << 62));
         c.max_session_chunks = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--quarantine-after-crashes", "BATCHD_QUARANTINE_AFTER_CRASHES", "N",
       "a session in progress at this many crashes of the daemon's own (a fatal signal, not a "
       "kill) ends in error instead of being requeued (default 3)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--quarantine-after-crashes", 1, 1000));
         c.quarantine_after_crashes = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--skip-integrity-check", "BATCHD_SKIP_INTEGRITY_CHECK", "yes|no",
       "skip the database's integrity check (PRAGMA quick_check, which reads the whole file) at "
       "start; a damaged database is otherwise refused (default no)",
       [](ServeConfig& c, const std::string& v) {
         if (v != "yes" && v != "no") {
           return Status::InvalidArgument("--skip-integrity-check takes yes or no, got '" + v + "'",
                                          "--skip-integrity-check");
         }
         c.skip_integrity_check = v == "yes";
         return Status::Ok();
       }},
      {"--http-max-in-flight", "BATCHD_HTTP_MAX_IN_FLIGHT", "N",
       "requests in flight (and pooled connections) per http(s):// store and host at most, "
       "whatever a job's limits.fetch_concurrency (default 64)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--http-max-in-flight", 1, 1024));
         c.http_max_in_flight = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--http-initial-in-flight", "BATCHD_HTTP_INITIAL_IN_FLIGHT", "N",
       "connections (so requests in flight) a host starts with; one more for each answer "
       "after which it keeps its connection open, up to --http-max-in-flight (default 4: a "
       "server that closes every connection, such as python3 -m http.server, keeps 4, which "
       "its listen backlog takes)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--http-initial-in-flight", 1, 1024));
         c.http_initial_in_flight = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--http-default-in-flight", "BATCHD_HTTP_DEFAULT_IN_FLIGHT", "N",
       "chunk reads in flight per session on an http(s):// source when a job sets no "
       "limits.fetch_concurrency, if fewer than --fetch-concurrency (default 8: a small server "
       "is not flooded)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--http-default-in-flight", 1, 1024));
         c.http_default_in_flight = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--checkpoint-interval-ms", "BATCHD_CHECKPOINT_INTERVAL_MS", "MS",
       "how often a running chunk session saves which chunks are done (default 1000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--checkpoint-interval-ms", 10, 3'600'000));
         c.checkpoint_interval_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--event-retention-events", "BATCHD_EVENT_RETENTION_EVENTS", "N",
       "events kept for replay at most; older ones are deleted (default 1000000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--event-retention-events", 1, INT64_MAX));
         c.event_retention_events = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--event-retention-seconds", "BATCHD_EVENT_RETENTION_SECONDS", "S",
       "events older than this are deleted (default 86400, one day)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n,
                          ParseCount(v, "--event-retention-seconds", 1, 100ull * 365 * 86400));
         c.event_retention_seconds = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--event-queue-limit", "BATCHD_EVENT_QUEUE_LIMIT", "N",
       "events waiting for one WebSocket client before it is closed as too slow (default 1024)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.event_queue_limit, ParseCount(v, "--event-queue-limit", 1, 1 << 20));
         return Status::Ok();
       }},
      {"--event-ping-ms", "BATCHD_EVENT_PING_MS", "MS",
       "ping a silent WebSocket client after this long; close it after twice (default 15000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--event-ping-ms", 100, 3'600'000));
         c.event_ping_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--event-max-subscribers", "BATCHD_EVENT_MAX_SUBSCRIBERS", "N",
       "WebSocket event streams open at once; more are refused with 503 (default 1000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.event_max_subscribers,
                          ParseCount(v, "--event-max-subscribers", 1, 100'000));
         return Status::Ok();
       }},
      {"--event-small-batch", "BATCHD_EVENT_SMALL_BATCH", "N",
       "batches of at most N sessions get a session.state event for every transition (default "
       "1000; larger ones only for errors and requests)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.event_small_batch, ParseCount(v, "--event-small-batch", 0, INT64_MAX));
         return Status::Ok();
       }},
      {"--event-session-rate", "BATCHD_EVENT_SESSION_RATE", "N",
       "session.state events written per second at most; the rest are counted (default 1000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.event_session_rate, ParseCount(v, "--event-session-rate", 1, 1 << 30));
         return Status::Ok();
       }},
      {"--allow-command", "BATCHD_ALLOW_COMMANDS", "PATH",
       "an absolute executable, or a directory of them, that command jobs may run (repeatable; "
       "the variable takes a ':'-separated list); argv[0] must resolve (realpath, no PATH "
       "search) inside one; without any, the command op is refused at submit",
       [](ServeConfig& c, const std::string& v) {
         size_t start = 0;
         while (start <= v.size()) {
           const size_t colon = std::min(v.find(':', start), v.size());
           const std::string entry = v.substr(start, colon - start);
           start = colon + 1;
           if (entry.empty()) continue;
           RETURN_IF_ERROR(pipeline::CommandAllowlist::Create({entry}).status());
           c.allow_commands.push_back(entry);
         }
         return Status::Ok();
       }},
      {"--kill-grace-ms", "BATCHD_KILL_GRACE_MS", "MS",
       "a canceled or timed-out command's process group gets SIGTERM, then SIGKILL after this "
       "long (default 5000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--kill-grace-ms", 0, 3'600'000));
         c.kill_grace_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
      {"--command-rlimit-as", "BATCHD_COMMAND_RLIMIT_AS", "BYTES",
       "address space each command process may map (RLIMIT_AS); default 0: the daemon's",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.command_rlimit_as, ParseCount(v, "--command-rlimit-as", 0, 1ull << 60));
         return Status::Ok();
       }},
      {"--command-rlimit-cpu", "BATCHD_COMMAND_RLIMIT_CPU", "SECONDS",
       "CPU time each command process may use (RLIMIT_CPU); default 0: the daemon's",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.command_rlimit_cpu,
                          ParseCount(v, "--command-rlimit-cpu", 0, 100ull * 365 * 86400));
         return Status::Ok();
       }},
      {"--command-rlimit-nofile", "BATCHD_COMMAND_RLIMIT_NOFILE", "N",
       "descriptors each command process may open (RLIMIT_NOFILE); 0: the daemon's own, raised "
       "for its connections (default 1024)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.command_rlimit_nofile,
                          ParseCount(v, "--command-rlimit-nofile", 0, 1 << 20));
         if (c.command_rlimit_nofile != 0 && c.command_rlimit_nofile < 16) {
           return Status::InvalidArgument(
               "--command-rlimit-nofile must be 0 or at least 16, got '" + v + "'",
               "--command-rlimit-nofile");
         }
         return Status::Ok();
       }},
      {"--log-bytes-per-session", "BATCHD_LOG_BYTES_PER_SESSION", "N",
       "a command session's stdout and stderr files together at most, each keeping its head "
       "and tail (default 8388608)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(c.log_bytes_per_session,
                          ParseCount(v, "--log-bytes-per-session", 4096, 1ull << 40));
         return Status::Ok();
       }},
      {"--log-follow-wait-ms", "BATCHD_LOG_FOLLOW_WAIT_MS", "MS",
       "how long GET /api/v1/sessions/{id}/log?follow=1 waits for new bytes before answering "
       "with none (default 20000)",
       [](ServeConfig& c, const std::string& v) {
         ASSIGN_OR_RETURN(uint64_t n, ParseCount(v, "--log-follow-wait-ms", 1, 3'600'000));
         c.log_follow_wait_ms = static_cast<int64_t>(n);
         return Status::Ok();
       }},
  };
  return kOptions;
}

}  // namespace

Result<ServeConfig> ParseServeArgs(const std::vector<std::string>& args,
                                   const char* (*getenv)(const char*)) {
  if (getenv == nullptr) getenv = [](const char* name) -> const char* { return std::getenv(name); };
  ServeConfig config;
  for (const Option& o : Options()) {
    if (const char* v = getenv(o.env)) {
      Status s = o.apply(config, v);
      if (!s.ok()) return Status::InvalidArgument(s.message() + " (from " + o.env + ")", o.env);
    }
  }
  bool file_root_flag_seen = false;
  bool cors_origin_flag_seen = false;
  bool allowed_host_flag_seen = false;
  bool http_allow_flag_seen = false;
  bool allow_command_flag_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      config.help = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    auto it = std::find_if(Options().begin(), Options().end(),
                           [&](const Option& o) { return flag == o.flag; });
    if (it == Options().end()) {
      return Status::InvalidArgument("unknown option '" + arg + "' (see batchd serve --help)", arg);
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Status::InvalidArgument(flag + " needs a value", flag);
    }
    // --file-root is repeatable: the flags together replace the variable's list.
    if (flag == "--file-root" && !std::exchange(file_root_flag_seen, true)) {
      config.file_roots.clear();
    }
    if (flag == "--cors-origin" && !std::exchange(cors_origin_flag_seen, true)) {
      config.cors_origins.clear();
    }
    if (flag == "--allowed-host" && !std::exchange(allowed_host_flag_seen, true)) {
      config.allowed_hosts.clear();
    }
    if (flag == "--http-allow" && !std::exchange(http_allow_flag_seen, true)) {
      config.http_allow.clear();
    }
    if (flag == "--allow-command" && !std::exchange(allow_command_flag_seen, true)) {
      config.allow_commands.clear();
    }
    RETURN_IF_ERROR(it->apply(config, value));
  }
  if (config.node_heartbeat_ms >= config.node_timeout_ms) {
    return Status::InvalidArgument(
        "--node-heartbeat-ms (" + std::to_string(config.node_heartbeat_ms) +
            ") must be below --node-timeout-ms (" + std::to_string(config.node_timeout_ms) + ")",
        "--node-heartbeat-ms");
  }
  if (!config.help && !IsLoopbackAddress(config.host) && config.token_file.empty()) {
    return Status::InvalidArgument(
        "refusing to listen on " + config.host +
            " without --token-file: anyone who can reach it could submit, cancel and delete "
            "batches. Give --token-file FILE (or BATCHD_TOKEN_FILE), or listen on 127.0.0.1",
        "--listen");
  }
  return config;
}

bool IsLoopbackAddress(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;  // ::ffff:127.x.y.z
  }
  return false;  // a name, or not an address: only a numeric loopback address counts
}

std::string ServeHelp() {
  std::string out =
      "usage: batchd serve [options]\n\n"
      "Runs the daemon until SIGINT or SIGTERM; SIGHUP reloads the token file. Every\n"
      "option can also be set by the environment variable shown; the flag wins.\n\n";
  for (const Option& o : Options()) {
    std::string left = std::string("  ") + o.flag + " " + o.value_name;
    out += left + std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') + "[" + o.env +
           "]\n      " + o.help + "\n";
  }
  return out;
}

}  // namespace batchd::daemon
