// {"op": "command", "argv": [...], "env": {...}, "cwd": "...", "timeout_s": N,
//  "transient_exit_codes": [75]}: runs a user's program per session (docs/command.md).
//
// The program runs directly (no shell) in a process group of its own, with stdin /dev/null and
// its stdout and stderr written to capped files under `work_dir`/logs; each run has a thread of
// its own that supervises it, so slots may outnumber threads as with the other ops. Its group
// is recorded durably (process_records.h) before the program starts, so a daemon that dies
// kills it at its next start.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "pipeline/ops/command_job.h"
#include "pipeline/ops/op_registry.h"
#include "pipeline/process/command_allowlist.h"
#include "pipeline/process/process_group.h"

namespace batchd::pipeline {

struct ChunkServices;

struct CommandOptions {
  CommandAllowlist allow;  // empty: the op is off (Enabled refuses it)
  // Holds logs/ (BATCH/SESSION.stdout, BATCH/SESSION.stderr: CommandLogPath), results/ (the
  // BATCHD_RESULT_FILE of each running session) and processes/ (the ProcessRecords). Created when
  // first needed.
  std::filesystem::path work_dir;
  std::chrono::milliseconds kill_grace{5000};  // between SIGTERM and SIGKILL
  ResourceLimits limits;
  // Both log files of one session together at most (plus a marker line each): each keeps its
  // first and last quarter of this.
  uint64_t log_bytes_per_session = 8 << 20;
  // The chunk pipeline for jobs with a "source" (command_stream_op.h); null: such jobs are
  // refused. Must outlive the registry.
  const ChunkServices* chunks = nullptr;
};

// Where a session stands, for its program's BATCHD_* variables.
ProgramPlace PlaceOf(const OpContext& ctx);

// Registers "command". The op keeps a thread per running program and joins them when the
// registry is destroyed (after the scheduler has stopped).
void RegisterCommandOp(OpRegistry& registry, CommandOptions options);

// The ProcessRecords directory under a command work dir, for the daemon's start-up cleanup.
std::filesystem::path CommandProcessRecordsDir(const std::filesystem::path& work_dir);

// The directory of every batch's log directory (CommandBatchLogsDir).
std::filesystem::path CommandLogsDir(const std::filesystem::path& work_dir);

// Where the command sessions of batch `batch_public_id` keep their logs: one directory per
// batch, so deleting a batch removes its logs without listing its sessions.
std::filesystem::path CommandBatchLogsDir(const std::filesystem::path& work_dir,
                                          const std::string& batch_public_id);

// The log of one session's stdout (`stream` "stdout") or stderr ("stderr") under a work dir.
std::filesystem::path CommandLogPath(const std::filesystem::path& work_dir,
                                     const std::string& batch_public_id, int64_t session_id,
                                     const std::string& stream);

}  // namespace batchd::pipeline
