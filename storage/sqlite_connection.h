// Opening SQLite connections with the settings every batchd connection shares.
#pragma once

#include <filesystem>
#include <memory>

#include <SQLiteCpp/Database.h>

#include "core/status.h"

namespace batchd::storage {

enum class ConnectionRole {
  kWriter,        // read-write, creates the file; exactly one per database
  kReader,        // read-only; any number, each used by one thread at a time
  kCheckpointer,  // read-write, for WAL checkpoints only (checkpointer.h); never writes rows
};

// Opens `path` in WAL mode (readers never block the writer, nor it them) with
// synchronous=NORMAL: a commit is durable against a process crash (kill -9) at once and
// against power loss from the next checkpoint on, which is the trade SQLite recommends for WAL.
// kIoError with SQLite's message if the file cannot be opened.
Result<std::unique_ptr<SQLite::Database>> OpenConnection(const std::filesystem::path& path,
                                                         ConnectionRole role);

}  // namespace batchd::storage
