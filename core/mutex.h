// The mutex, scoped lock and condition variable for members that a lock guards, annotated so
// that clang's -Wthread-safety checks every use (core/thread_annotations.h). They wrap
// std::mutex and std::condition_variable and behave exactly like them; only the compiler sees
// the difference.
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   CondVar changed_;
//   ...
//   MutexLock lock(mu_);
//   while (count_ == 0) changed_.Wait(mu_);
//
// Waits are written as loops over Wait rather than with a predicate lambda: the analysis checks
// a lambda as a function of its own, which does not hold the lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.h"

namespace batchd {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis that the caller holds this mutex, where it cannot follow the lock (a
  // callback run under it). std::mutex cannot tell who holds it, so nothing is checked at run
  // time: use it only where the lock is held by construction.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction. Unlock() and Lock() give it up and take it
// again in between (for a call that must run without it); the destructor unlocks only if held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    held_ = false;
    mu_.Unlock();
  }
  void Lock() ACQUIRE() {
    mu_.Lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A condition variable for a Mutex. Every wait names the mutex it releases while waiting and
// holds again on return, and requires it held, so the analysis checks the waiter too. One
// CondVar goes with one Mutex, as for std::condition_variable. Wakeups may be spurious: wait in
// a loop over the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's lock owns it
  }

  // Waits until notified or until `deadline`; std::cv_status::timeout if the deadline passed.
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline)
      REQUIRES(mu) {
    std::unique_lock lock(mu.mu_, std::adopt_lock);
    std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status;
  }

  // Waits until notified or for `timeout` at most; std::cv_status::timeout if it elapsed.
  template <typename Rep, typename Period>
  std::cv_status WaitFor(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout)
      REQUIRES(mu) {
    // As std::condition_variable::wait_for does: on the steady clock.
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace batchd
