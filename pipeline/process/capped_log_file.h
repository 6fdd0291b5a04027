// One stream of a program's output (stdout or stderr) in a file of bounded size: the first
// head_bytes go to the file as they come, the last tail_bytes are kept in memory and appended
// at Close after a one-line marker saying how much was left out between them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "core/status.h"
#include "pipeline/process/tail_buffer.h"

namespace batchd::pipeline {

class CappedLogFile {
 public:
  // Creates (or truncates) `path`. kIoError naming it if it cannot be opened.
  static Result<CappedLogFile> Create(const std::filesystem::path& path, uint64_t head_bytes,
                                      uint64_t tail_bytes);
  CappedLogFile(CappedLogFile&& other) noexcept;
  CappedLogFile& operator=(CappedLogFile&&) = delete;
  ~CappedLogFile();  // Close()s

  // Write errors are remembered, not returned: a full disk must not stop the program's run.
  void Append(std::string_view bytes);
  // Writes the marker and the tail if anything was left out, and closes the file. Idempotent.
  Status Close();

  uint64_t total_bytes() const { return total_; }

 private:
  CappedLogFile(int fd, uint64_t head_bytes, uint64_t tail_bytes)
      : fd_(fd), head_bytes_(head_bytes), tail_(tail_bytes) {}
  void Write(std::string_view bytes);

  int fd_ = -1;
  uint64_t head_bytes_;
  uint64_t written_ = 0;  // to the file so far (the head)
  uint64_t total_ = 0;
  TailBuffer tail_;  // what came after the head (the last tail_bytes of it)
  int error_ = 0;    // errno of the first failed write
};

}  // namespace batchd::pipeline
