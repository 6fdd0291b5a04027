#include "pipeline/stores/chained_reads.h"

#include <algorithm>
#include <atomic>

#include "pipeline/stores/store_key.h"

namespace batchd::pipeline {
namespace {

struct ChainedReadJob : std::enable_shared_from_this<ChainedReadJob> {
  std::vector<std::string> keys;
  std::shared_ptr<CancelToken> cancel;
  ChunkStore::ReadCallback on_read;
  ReadOneKey read_one;
  std::atomic<size_t> next{0};

  // Reads the next key; answers keys that need no request (refused, canceled) on the way.
  void SendNext() {
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= keys.size()) return;
      if (cancel && cancel->canceled()) {
        on_read(i, Status::Unavailable("canceled"));
        continue;
      }
      if (Status valid = ValidateStoreKey(keys[i]); !valid.ok()) {
        on_read(i, valid);
        continue;
      }
      read_one(keys[i], cancel, [self = shared_from_this(), i](Result<std::optional<Bytes>> value) {
        self->on_read(i, std::move(value));
        self->SendNext();
      });
      return;
    }
  }
};

}  // namespace

void StartChainedReads(std::vector<std::string> keys, size_t chains,
                       std::shared_ptr<CancelToken> cancel, ChunkStore::ReadCallback on_read,
                       ReadOneKey read_one, const PostTask& post) {
  if (keys.empty()) return;
  chains = std::clamp<size_t>(chains, 1, keys.size());
  auto job = std::make_shared<ChainedReadJob>();
  job->keys = std::move(keys);
  job->cancel = std::move(cancel);
  job->on_read = std::move(on_read);
  job->read_one = std::move(read_one);
  post([job, chains] {
    for (size_t c = 0; c < chains; ++c) job->SendNext();
  });
}

}  // namespace batchd::pipeline
