#include "pipeline/process/tail_buffer.h"

#include <algorithm>

namespace batchd::pipeline {

void TailBuffer::Append(std::string_view bytes) {
  total_ += bytes.size();
  if (capacity_ == 0) return;
  if (bytes.size() >= capacity_) {  // only its end survives
    ring_.assign(bytes.substr(bytes.size() - capacity_));
    next_ = 0;
    return;
  }
  if (ring_.size() < capacity_) {
    const size_t room = capacity_ - ring_.size();
    ring_.append(bytes.substr(0, room));
    bytes.remove_prefix(std::min(room, bytes.size()));
  }
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), capacity_ - next_);
    ring_.replace(next_, n, bytes.substr(0, n));
    next_ = (next_ + n) % capacity_;
    bytes.remove_prefix(n);
  }
}

std::string TailBuffer::Contents() const {
  if (ring_.size() < capacity_) return ring_;
  return ring_.substr(next_) + ring_.substr(0, next_);
}

std::string LastLines(std::string_view text, size_t max_lines) {
  if (max_lines == 0) return {};
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  size_t start = text.size();
  size_t lines = 0;
  while (start > 0) {
    const size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string_view::npos) {
      start = 0;
    } else if (++lines == max_lines) {
      start = nl + 1;
      break;
    } else {
      start = nl;
    }
  }
  return std::string(text.substr(start));
}

}  // namespace batchd::pipeline
