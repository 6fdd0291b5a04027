// Must not compile under -Wthread-safety -Werror: writes a GUARDED_BY member after
// MutexLock::Unlock gave the lock up.
#include "core/mutex.h"

namespace {

class Counter {
 public:
  void Add() {
    batchd::MutexLock lock(mu_);
    lock.Unlock();
    ++count_;
  }

 private:
  batchd::Mutex mu_;
  int count_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() { Counter().Add(); }
