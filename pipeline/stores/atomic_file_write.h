// How file:// stores write a key: atomically and durably, so that after a crash, a `kill -9`
// or a power loss the key holds either its old bytes or the new ones, never a part, and no
// reader ever sees a partial file.
//
//   1. create a temp file in the key's own directory (rename is atomic only within one
//      filesystem), named ".<name>.tmp-<pid>-<counter>": it cannot collide with another
//      writer's, and it is recognisable, so what a crash leaves behind can be found;
//   2. lock it (flock), write all the bytes, fdatasync: the data is on disk before the name is;
//   3. rename it over the key (atomic replacement), then fsync the directory: the new name is
//      on disk too;
//   4. on any failure, remove the temp file.
//
// A crash between 1 and 3 leaves a temp file and the key untouched; RemoveStaleTempFiles
// clears those. It only removes files whose lock it can take: a writer holds its temp file's
// lock until the rename, so a cleanup may run at any time, even while other processes write.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"
#include "pipeline/bytes.h"

namespace batchd::pipeline {

// Replaces the file `name` (a single path component) in the directory `dir_fd` (opened
// O_RDONLY | O_DIRECTORY, so it can be fsynced) by `data`, as described above. `what` names the
// key in error messages. kIoError on failure, with the temp file removed. Blocking: run it on
// an I/O thread.
Status WriteFileAtomically(int dir_fd, std::string_view name, ByteView data, std::string_view what);

// The temp file name a writer of `name` in this process uses next (truncated to fit NAME_MAX).
std::string NextTempFileName(std::string_view name);

// True for names NextTempFileName makes: "." + something + ".tmp-<digits>-<digits>".
bool IsTempFileName(std::string_view name);

// Removes, in the directory `dir_fd` and every subdirectory (symlinks are not followed), the
// temp files whose writer is gone. Returns how many it removed; kIoError naming `what` if a
// directory cannot be read. Blocking: it reads every directory entry once.
Result<size_t> RemoveStaleTempFiles(int dir_fd, std::string_view what);

}  // namespace batchd::pipeline
