// The control for thread_safety_test.sh: every guarded member is touched with its lock held,
// so this compiles cleanly under -Wthread-safety -Werror. If it did not, the failures of the
// other files would prove nothing.
#include <chrono>

#include "core/mutex.h"

namespace {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    {
      batchd::MutexLock lock(mu_);
      AddLocked();
    }
    changed_.Signal();
  }

  int WaitForOne() EXCLUDES(mu_) {
    batchd::MutexLock lock(mu_);
    while (count_ == 0) changed_.Wait(mu_);
    lock.Unlock();
    // Unguarded work here; then the lock again, released by the destructor.
    lock.Lock();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
    changed_.WaitUntil(mu_, deadline);
    changed_.WaitFor(mu_, std::chrono::milliseconds(1));
    return count_;
  }

 private:
  void AddLocked() REQUIRES(mu_) { ++count_; }

  batchd::Mutex mu_;
  batchd::CondVar changed_;
  int count_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  return c.WaitForOne() == 1 ? 0 : 1;
}
