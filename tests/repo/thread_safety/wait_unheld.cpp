// Must not compile under -Wthread-safety -Werror: waits on a CondVar without holding the
// mutex it names.
#include "core/mutex.h"

namespace {

class Gate {
 public:
  void Wait() { open_changed_.Wait(mu_); }

 private:
  batchd::Mutex mu_;
  batchd::CondVar open_changed_;
};

}  // namespace

int main() { Gate().Wait(); }
