// ChunkStore::GetRanges for stores that read over HTTP (http(s)://, s3://): one Range request
// per merged read (CoalesceRanges), all in flight at once (neighbours are merged, so they are
// few), their bytes scattered back into the asked ranges; and what a server's answer to one
// Range request means. The two stores differ only in how they build, sign and refuse a
// request, which they pass in.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/stores/byte_ranges.h"
#include "pipeline/stores/chained_reads.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_client.h"

namespace batchd::pipeline {

// Sends the Range request for `span` (HttpRangeHeader) of the value under the (valid) key, and
// calls `done` exactly once with the span's bytes, nullopt if the key does not exist, or an
// error (MapRangeAnswer, and the store's own mapping of every other status).
using ReadOneSpan = std::function<void(const ByteRange& span,
                                       std::function<void(Result<std::optional<Bytes>>)> done)>;

// Validates `ranges` (ValidateRanges) and `key` (ValidateStoreKey), answering a refusal through
// `post` without a request; otherwise merges the ranges and sends every merged read with
// `read_one`. `done` runs once, when the last read is answered: the ranges' bytes in the order
// asked; nullopt if any read found no value; the first error otherwise.
void StartRangeReads(std::string key, std::vector<ByteRange> ranges,
                     ChunkStore::RangesCallback done, const ReadOneSpan& read_one,
                     const PostTask& post);

// What an answer to a Range request for `span` says, for the statuses every HTTP server gives
// it: a 206 must hold exactly the span, as its Content-Range says (a server clamps a range that
// runs past the end, which shows as a shorter part: kCorrupt, RangePastEnd); a 200 is the whole
// value (a server that ignores Range), which the span is cut from; a 416 says the span starts
// past the end (kCorrupt). `what` names the key and store in those errors. nullopt for any other
// status, which the store maps itself (404: missing, 403: refused, 5xx: transient...).
std::optional<Result<Bytes>> MapRangeAnswer(HttpResponse& response, const ByteRange& span,
                                            const std::string& what);

}  // namespace batchd::pipeline
