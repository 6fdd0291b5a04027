#include "guarded_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace batchd::pipeline::testing {

GuardedBuffer::GuardedBuffer(size_t size) : size_(size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t data_pages = (size + page - 1) / page;
  mapping_size_ = (data_pages + 1) * page;
  mapping_ =
      mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    std::perror("GuardedBuffer: mmap");
    std::abort();
  }
  uint8_t* guard = static_cast<uint8_t*>(mapping_) + data_pages * page;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    std::perror("GuardedBuffer: mprotect");
    std::abort();
  }
  data_ = guard - size;
}

GuardedBuffer::GuardedBuffer(ByteView contents) : GuardedBuffer(contents.size()) {
  if (!contents.empty()) std::memcpy(data_, contents.data(), contents.size());
}

ByteView GuardedBuffer::Place(ByteView contents) {
  MutableByteView tail = Tail(contents.size());
  if (!contents.empty()) std::memcpy(tail.data(), contents.data(), contents.size());
  return tail;
}

GuardedBuffer::~GuardedBuffer() { munmap(mapping_, mapping_size_); }

}  // namespace batchd::pipeline::testing
