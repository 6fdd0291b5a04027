#include "daemon/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace batchd::daemon {

void RaiseOpenFileLimit(uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return;
  const rlim_t target =
      limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
  if (target > limit.rlim_cur) {
    rlimit raised = limit;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      spdlog::warn("cannot raise the open file limit to {}: {}", target, std::strerror(errno));
      return;
    }
  }
  if (target < wanted) {
    spdlog::warn(
        "the open file limit is {} (hard); --max-connections wants about {}: connections will be "
        "refused by the kernel before the limit (raise it with ulimit -n or LimitNOFILE=)",
        static_cast<uint64_t>(limit.rlim_max), wanted);
  }
}

}  // namespace batchd::daemon
