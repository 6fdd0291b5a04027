// Byte buffers for chunk data. `Bytes` is a std::vector whose resize() leaves new bytes
// uninitialized: chunk buffers are always overwritten right after they are sized (by a read or
// a decode), and zeroing a megabyte first would cost as much as copying it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace batchd::pipeline {

// std::allocator, except that value-initialization (resize, the count constructor) does
// default-initialization, which for uint8_t means "leave it alone".
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;

  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;
using ByteView = std::span<const uint8_t>;
using MutableByteView = std::span<uint8_t>;

}  // namespace batchd::pipeline
