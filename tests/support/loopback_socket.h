// A TCP connection to 127.0.0.1 with bounded connect, send and receive times, so a hung daemon
// fails the test with a clear error instead of hanging the test run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchd::testing {

// A loopback port that was free a moment ago (the kernel picks it; it is closed again for the
// caller to hand to a server it starts, which may lose a race for it to another process).
Result<uint16_t> PickFreePort();

class LoopbackSocket {
 public:
  LoopbackSocket() = default;
  ~LoopbackSocket();
  LoopbackSocket(LoopbackSocket&& other) noexcept;
  LoopbackSocket& operator=(LoopbackSocket&& other) noexcept;
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  // Connects to 127.0.0.1:port. kUnavailable if nothing listens there (connection refused),
  // kIoError on a timeout or any other failure. `timeout` also bounds every later Send/Receive.
  // `receive_buffer_bytes` > 0 shrinks the kernel's receive buffer (set before connecting, so
  // the advertised window stays small): for tests of a client that stops reading.
  static Result<LoopbackSocket> Connect(uint16_t port, std::chrono::milliseconds timeout,
                                        int receive_buffer_bytes = 0);

  // Writes all of `data`. kIoError on failure (e.g. the peer closed early: the caller may still
  // find a response to read, which is how servers answer oversized bodies).
  Status SendAll(std::string_view data);

  // Appends what arrives (at least one byte) to `out`. Returns false with an OK status at the
  // peer's orderly close; kIoError on a timeout or reset.
  Result<bool> ReceiveSome(std::string& out);

  bool is_open() const { return fd_ >= 0; }
  void Close();

 private:
  explicit LoopbackSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace batchd::testing
