// The file:// chunk store: an array is a directory, a key is a file path beneath it.
//
// URL: file:///absolute/path/to/array (or file://localhost/...), percent-escapes decoded. Refused
// with kInvalidArgument naming the URL: another host, a relative path (file://a/b names host
// "a"), a query or fragment, and any path outside the file roots (see file_roots.h for the
// rule, including symlinks). Keys are checked again on every read and write: a key that
// resolves outside the roots (a symlinked chunk, a symlinked directory inside the array) is
// refused with kInvalidArgument "... is outside the file roots".
//
// Reads (GetMany) run on the shared I/O pool: at most min(max_in_flight, I/O threads) keys are
// read at once. Each pool task reads a run of keys (up to 64) and reports each, then yields its
// thread to other stores' work, so a large GetMany costs one task hand-off per run, not per key.
// A key that does not exist (ENOENT, ENOTDIR) or is a directory reads as nullopt; other
// failures are kIoError naming the key. If the pool's queue is full, GetMany reports every key
// kUnavailable at once, on the calling thread.
//
// ReadNow (the chunk engine's direct reads) reads a key on the caller's thread into the caller's
// buffer with RWF_NOWAIT reads, which take only what the page cache holds: a file that is (even
// partly) not cached says kWouldWait, and the caller uses GetMany. Same open, same answers.
//
// Writes (Put) run on the same pool and are atomic and durable (atomic_file_write.h): after a
// crash, kill -9 or power loss a key holds its old bytes or its new ones, never a part.
// Missing directories are created (inside the roots). A crash during a put may leave a temp
// file ".<name>.tmp-<pid>-<counter>" next to the key; RemoveStaleTempFiles removes those.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "pipeline/engine/io_thread_pool.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/file_roots.h"

namespace batchd::pipeline {

// Opens the store; does no I/O beyond resolving the array path (which need not exist yet: a
// store for writing creates it on the first Put). `roots` and `io` are shared by all file
// stores of a registry and kept alive by each store and by its reads in flight.
Result<std::shared_ptr<ChunkStore>> OpenFileStore(const std::string& url,
                                                  std::shared_ptr<const FileRoots> roots,
                                                  std::shared_ptr<IoThreadPool> io);

}  // namespace batchd::pipeline
