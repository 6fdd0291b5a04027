// GetMany for stores that read one key per request (http(s)://, s3://): `chains` request
// chains, each reading the next unclaimed key when its previous read completes, so at most
// `chains` reads are outstanding however many keys there are.
//
// Keys that need no request are answered on the way without one: an invalid key
// (ValidateStoreKey's refusal) and, once `cancel` is canceled, every key not yet sent
// (kUnavailable "canceled"). Every key's answer reaches `on_read` exactly once, on whatever
// thread `read_one` calls back on; the chains start inside `post`, so even answers without a
// request are never given on the caller's thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/engine/cancel_token.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// Reads one (valid) key and calls `done` exactly once with its value, nullopt if missing, or
// an error.
using ReadOneKey =
    std::function<void(const std::string& key, const std::shared_ptr<CancelToken>& cancel,
                       std::function<void(Result<std::optional<Bytes>>)> done)>;

// Runs `task` where the chains should start (the store's client thread).
using PostTask = std::function<void(std::function<void()> task)>;

// `chains` >= 1 (capped at the number of keys). Returns at once; nothing is read when `keys`
// is empty.
void StartChainedReads(std::vector<std::string> keys, size_t chains,
                       std::shared_ptr<CancelToken> cancel, ChunkStore::ReadCallback on_read,
                       ReadOneKey read_one, const PostTask& post);

}  // namespace batchd::pipeline
