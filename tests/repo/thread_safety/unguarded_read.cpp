// Must not compile under -Wthread-safety -Werror: reads a GUARDED_BY member without its lock.
#include "core/mutex.h"

namespace {

class Counter {
 public:
  int Get() { return count_; }

 private:
  batchd::Mutex mu_;
  int count_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() { return Counter().Get(); }
