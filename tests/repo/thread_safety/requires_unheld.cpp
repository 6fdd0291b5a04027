// Must not compile under -Wthread-safety -Werror: calls a REQUIRES(mu_) function without mu_.
#include "core/mutex.h"

namespace {

class Counter {
 public:
  void Add() { AddLocked(); }

 private:
  void AddLocked() REQUIRES(mu_) { ++count_; }

  batchd::Mutex mu_;
  int count_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() { Counter().Add(); }
