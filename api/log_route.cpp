// GET /api/v1/sessions/{id}/log: a bounded slice of a session's stdout or stderr, and the
// long poll that waits for more (docs/api.md, "Session logs"). The bytes are the body as they
// are; where they sit in the log and whether more can come are headers, so the body needs no
// escaping and `curl` prints the log.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "api/error_response.h"
#include "api/query_params.h"
#include "api/routes.h"

namespace batchd::api {
namespace {

// An unsigned decimal integer in [min, max] at "?name"; `fallback` when absent.
Result<uint64_t> ParseCountParam(const HttpRequest& request, const std::string& name,
                                 uint64_t fallback, uint64_t min, uint64_t max) {
  const auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  const std::string& text = it->second;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return Status::Malformed(name + " must be an integer from " + std::to_string(min) + " to " +
                                 std::to_string(max) + ", got '" + text + "'",
                             "?" + name);
  }
  return value;
}

Result<LogQuery> ParseLogQuery(const HttpRequest& request) {
  LogQuery q;
  if (Status repeated = RefuseRepeatedQuery(request); !repeated.ok()) return repeated;
  if (const auto it = request.query.find("stream"); it != request.query.end()) {
    if (it->second == "stdout") {
      q.stream = LogStream::kStdout;
    } else if (it->second == "stderr") {
      q.stream = LogStream::kStderr;
    } else {
      return Status::Malformed("stream must be stdout or stderr, got '" + it->second + "'",
                               "?stream");
    }
  }
  ASSIGN_OR_RETURN(q.offset, ParseCountParam(request, "offset", 0, 0, INT64_MAX));
  ASSIGN_OR_RETURN(uint64_t max_bytes,
                   ParseCountParam(request, "max_bytes", kDefaultLogBytes, 1, kMaxLogBytes));
  q.max_bytes = static_cast<size_t>(max_bytes);
  if (const auto it = request.query.find("follow"); it != request.query.end()) {
    if (it->second != "0" && it->second != "1") {
      return Status::Malformed("follow must be 0 or 1, got '" + it->second + "'", "?follow");
    }
    q.follow = it->second == "1";
  }
  ASSIGN_OR_RETURN(q.wait_ms, ParseCountParam(request, "wait_ms", 0, 1, 3'600'000));
  return q;
}

HttpResponse LogResponse(const LogChunk& chunk) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "application/octet-stream";
  r.body = chunk.bytes;
  auto yes_no = [](bool b) { return std::string(b ? "true" : "false"); };
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Batchd-Log-Offset", std::to_string(chunk.offset));
  r.headers.emplace_back("Batchd-Log-Next-Offset", std::to_string(chunk.next_offset()));
  r.headers.emplace_back("Batchd-Log-Size", std::to_string(chunk.size));
  r.headers.emplace_back("Batchd-Log-Finished", yes_no(chunk.finished));
  r.headers.emplace_back("Batchd-Log-Complete",
                         yes_no(chunk.finished && chunk.next_offset() >= chunk.size));
  r.headers.emplace_back("Batchd-Log-Restarted", yes_no(chunk.restarted));
  return r;
}

}  // namespace

void RegisterLogRoute(Router& router, const ApiContext& ctx) {
  router.Add("GET", "/api/v1/sessions/{id}/log", [ctx](HttpRequest& request, Responder respond) {
    const std::string& text = request.path_params.at("id");
    const std::optional<int64_t> id = ParsePositiveId(text);
    if (!id) return respond(ErrorResponse(Status::NotFound("no session with id " + text)));
    if (ctx.logs == nullptr) {
      return respond(ErrorResponse(404, "no_log", "this daemon serves no session logs"));
    }
    Result<LogQuery> query = ParseLogQuery(request);
    if (!query.ok()) return respond(ErrorResponse(query.status()));
    query->session_id = *id;
    ctx.logs->Read(*query, [respond](Result<LogChunk> chunk) {
      if (!chunk.ok()) return respond(ErrorResponse(chunk.status()));
      if (!chunk->has_log) return respond(ErrorResponse(404, "no_log", chunk->no_log_reason));
      respond(LogResponse(*chunk));
    });
  });
}

}  // namespace batchd::api
