#include "pipeline/stores/range_reads.h"

#include <memory>

#include "core/mutex.h"
#include "pipeline/stores/store_key.h"

namespace batchd::pipeline {
namespace {

// A Content-Range header, "bytes first-last/total" or "bytes */total" (total "*": unknown).
struct ContentRange {
  std::optional<uint64_t> first, last, total;
};

std::optional<uint64_t> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ContentRange out;
  const std::string_view span = value.substr(0, slash);
  const std::string_view total = value.substr(slash + 1);
  if (total != "*") {
    out.total = ParseNumber(total);
    if (!out.total) return std::nullopt;
  }
  if (span == "*") return out;
  const size_t dash = span.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  out.first = ParseNumber(span.substr(0, dash));
  out.last = ParseNumber(span.substr(dash + 1));
  if (!out.first || !out.last || *out.last < *out.first) return std::nullopt;
  return out;
}

// One GetRanges in flight: answered when the last of its merged reads is.
struct RangeReadsJob {
  std::vector<ByteRange> ranges;
  std::vector<RangeRead> reads;
  ChunkStore::RangesCallback done;
  Mutex mu;
  std::vector<Bytes> parts GUARDED_BY(mu);
  size_t pending GUARDED_BY(mu) = 0;
  bool missing GUARDED_BY(mu) = false;
  Status error GUARDED_BY(mu);

  void OnRead(size_t r, Result<std::optional<Bytes>> data) {
    std::optional<Result<std::optional<std::vector<Bytes>>>> out;
    {
      MutexLock lock(mu);
      if (!data.ok()) {
        if (error.ok()) error = data.status();
      } else if (!data->has_value()) {
        missing = true;
      } else if (error.ok() && !missing) {
        ScatterRead(reads[r], **data, ranges, parts);
      }
      if (--pending != 0) return;
      if (!error.ok()) {
        out.emplace(error);
      } else if (missing) {
        out.emplace(std::optional<std::vector<Bytes>>());
      } else {
        out.emplace(std::optional<std::vector<Bytes>>(std::move(parts)));
      }
    }
    done(std::move(*out));
  }
};

}  // namespace

void StartRangeReads(std::string key, std::vector<ByteRange> ranges,
                     ChunkStore::RangesCallback done, const ReadOneSpan& read_one,
                     const PostTask& post) {
  Status valid = ValidateRanges(ranges);
  if (valid.ok()) valid = ValidateStoreKey(key);
  if (!valid.ok()) {
    post([done = std::move(done), valid] { done(valid); });
    return;
  }
  auto job = std::make_shared<RangeReadsJob>();
  job->reads = CoalesceRanges(ranges);
  job->ranges = std::move(ranges);
  job->done = std::move(done);
  {
    MutexLock lock(job->mu);
    job->parts.resize(job->ranges.size());
    job->pending = job->reads.size();
  }
  for (size_t r = 0; r < job->reads.size(); ++r) {
    read_one(job->reads[r].span,
             [job, r](Result<std::optional<Bytes>> data) { job->OnRead(r, std::move(data)); });
  }
}

std::optional<Result<Bytes>> MapRangeAnswer(HttpResponse& response, const ByteRange& span,
                                            const std::string& what) {
  if (response.status == 200) {
    Result<std::vector<Bytes>> whole = SliceRanges(response.body, {&span, 1}, what);
    if (!whole.ok()) return Result<Bytes>(whole.status());
    return Result<Bytes>(std::move((*whole)[0]));
  }
  const std::optional<ContentRange> range = ParseContentRange(response.content_range);
  if (response.status == 416) {
    if (range && range->total) return Result<Bytes>(RangePastEnd(span, *range->total, what));
    return Result<Bytes>(Status::Corrupt(HttpRangeHeader(span) + " of " + what + ": " +
                                         response.status_text +
                                         " (the range starts past the end of the value)"));
  }
  if (response.status != 206) return std::nullopt;
  if (range && range->first && range->total &&
      response.body.size() == *range->last - *range->first + 1) {
    const uint64_t total = *range->total;
    if (span.length > total || (!span.suffix && span.offset > total - span.length)) {
      return Result<Bytes>(RangePastEnd(span, total, what));
    }
    const uint64_t first = span.suffix ? total - span.length : span.offset;
    if (*range->first == first && response.body.size() == span.length) {
      return Result<Bytes>(std::move(response.body));
    }
  }
  return Result<Bytes>(Status::Corrupt(HttpRangeHeader(span) + " of " + what +
                                       " was answered with another part (Content-Range \"" +
                                       response.content_range.substr(0, 100) + "\", " +
                                       std::to_string(response.body.size()) + " bytes)"));
}

}  // namespace batchd::pipeline
