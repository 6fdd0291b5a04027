#include "api/event_subscription.h"

#include "api/query_params.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace batchd::api {
namespace {

using storage::EventType;

std::optional<int64_t> ParseNonNegative(const std::string& text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < 0) return std::nullopt;
  return v;
}

std::string AllTypeNames() {
  std::string out;
  for (int i = 0; i < storage::kEventTypeCount; ++i) {
    out += (i ? ", " : "") + std::string(storage::EventTypeName(static_cast<EventType>(i)));
  }
  return out;
}

Status RefuseUnknown(const HttpRequest& request, const std::set<std::string>& allowed) {
  RETURN_IF_ERROR(RefuseRepeatedQuery(request));
  for (const auto& [name, value] : request.query) {
    if (!allowed.count(name)) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Status::Malformed(
          "unknown query parameter '" + name + "' (this endpoint takes " + list + ")", "?" + name);
    }
  }
  return Status::Ok();
}

Result<EventSubscription> ParseCommon(const HttpRequest& request) {
  EventSubscription s;
  if (auto it = request.query.find("batch"); it != request.query.end()) {
    if (it->second.empty()) return Status::Malformed("batch must be a batch id", "?batch");
    s.filter.batch = it->second;
  }
  if (auto it = request.query.find("session"); it != request.query.end()) {
    std::optional<int64_t> id = ParseNonNegative(it->second);
    if (!id || *id == 0) {
      return Status::Malformed("session must be a session id, got '" + it->second + "'",
                               "?session");
    }
    s.filter.session = id;
  }
  if (auto it = request.query.find("types"); it != request.query.end()) {
    ASSIGN_OR_RETURN(s.filter.types, ParseEventTypes(it->second));
  }
  for (const char* name : {"since", "cursor"}) {
    auto it = request.query.find(name);
    if (it == request.query.end()) continue;
    std::optional<int64_t> seq = ParseNonNegative(it->second);
    if (!seq) {
      return Status::Malformed(
          std::string(name) + " must be an event seq (an integer >= 0), got '" + it->second + "'",
          std::string("?") + name);
    }
    if (s.since && *s.since != *seq) {
      return Status::Malformed("since and cursor disagree; pass one of them", "?cursor");
    }
    s.since = seq;
  }
  return s;
}

}  // namespace

bool EventFilter::Matches(EventType type, const std::string& event_batch,
                          std::optional<int64_t> event_session) const {
  if (batch && *batch != event_batch) return false;
  if (session && session != event_session) return false;
  return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
}

Result<std::vector<EventType>> ParseEventTypes(const std::string& text) {
  std::vector<EventType> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string name = text.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) {
      return Status::Malformed("types must be a comma-separated list of event types", "?types");
    }
    const bool family = name.size() > 2 && name.ends_with(".*");
    bool found = false;
    for (int i = 0; i < storage::kEventTypeCount; ++i) {
      const auto type = static_cast<EventType>(i);
      const std::string type_name = storage::EventTypeName(type);
      const bool match =
          family ? type_name.starts_with(name.substr(0, name.size() - 1)) : type_name == name;
      if (!match) continue;
      found = true;
      if (std::find(out.begin(), out.end(), type) == out.end()) out.push_back(type);
    }
    if (!found) {
      return Status::Malformed(
          "unknown event type '" + name + "'; known: " + AllTypeNames() + ", batch.*, session.*",
          "?types");
    }
  }
  return out;
}

Result<EventSubscription> ParseEventSubscription(const HttpRequest& request) {
  RETURN_IF_ERROR(RefuseUnknown(request, {"batch", "session", "types", "since"}));
  return ParseCommon(request);
}

Result<EventPageRequest> ParseEventPageRequest(const HttpRequest& request) {
  RETURN_IF_ERROR(
      RefuseUnknown(request, {"batch", "session", "types", "since", "cursor", "limit", "tail"}));
  EventPageRequest out;
  ASSIGN_OR_RETURN(out.subscription, ParseCommon(request));
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    std::optional<int64_t> n = ParseNonNegative(it->second);
    if (!n || *n < 1 || *n > 1000) {
      return Status::Malformed("limit must be an integer from 1 to 1000, got '" + it->second + "'",
                               "?limit");
    }
    out.limit = static_cast<int>(*n);
  }
  if (auto it = request.query.find("tail"); it != request.query.end()) {
    std::optional<int64_t> n = ParseNonNegative(it->second);
    if (!n || *n < 1 || *n > 1000) {
      return Status::Malformed("tail must be an integer from 1 to 1000, got '" + it->second + "'",
                               "?tail");
    }
    if (out.subscription.since) {
      return Status::Malformed("tail returns the newest events; it cannot be combined with since",
                               "?tail");
    }
    out.tail = true;
    out.limit = static_cast<int>(*n);
  }
  return out;
}

}  // namespace batchd::api
