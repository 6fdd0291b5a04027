// Wall-clock time as stored in the database: unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace batchd {

inline int64_t UnixMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace batchd
