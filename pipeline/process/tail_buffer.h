// The last N bytes of a stream, in memory: what a capped log keeps of its tail, and the end of
// a program's stderr that its error message quotes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace batchd::pipeline {

class TailBuffer {
 public:
  explicit TailBuffer(size_t capacity) : capacity_(capacity) {}

  void Append(std::string_view bytes);
  // The last min(capacity, total) bytes, oldest first.
  std::string Contents() const;
  uint64_t total_bytes() const { return total_; }

 private:
  size_t capacity_;
  std::string ring_;  // grows to capacity_, then wraps at next_
  size_t next_ = 0;   // where the next byte goes once ring_ is full
  uint64_t total_ = 0;
};

// The last `max_lines` lines of `text` (a final line without '\n' counts), for error messages.
std::string LastLines(std::string_view text, size_t max_lines);

}  // namespace batchd::pipeline
