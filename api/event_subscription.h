// What a client asks of GET /api/v1/events, from its query parameters (docs/api.md): which
// events (batch, session, types) and where to start (since). Errors are kMalformed naming the
// parameter ("?types"), answered 400 invalid_query before any upgrade.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "core/status.h"
#include "storage/event_record.h"

namespace batchd::api {

struct EventFilter {
  std::optional<std::string> batch;
  std::optional<int64_t> session;
  std::vector<storage::EventType> types;  // empty: every type

  bool Matches(storage::EventType type, const std::string& event_batch,
               std::optional<int64_t> event_session) const;
};

struct EventSubscription {
  EventFilter filter;
  // Replay stored events after this seq before going live; nullopt: live only.
  std::optional<int64_t> since;
};

// For the WebSocket stream: batch, session, types, since. Any other parameter is refused, so a
// typo never silently widens a subscription.
Result<EventSubscription> ParseEventSubscription(const HttpRequest& request);

// For the plain GET (a page of the stored log): the same, plus `limit` (1..1000, default 100)
// and `tail` (the newest N instead of those after `since`). `cursor` is accepted for `since`.
struct EventPageRequest {
  EventSubscription subscription;
  int limit = 100;
  bool tail = false;
};
Result<EventPageRequest> ParseEventPageRequest(const HttpRequest& request);

// `types=batch.progress,batch.finished`; `batch.*` and `session.*` name a family.
Result<std::vector<storage::EventType>> ParseEventTypes(const std::string& text);

}  // namespace batchd::api
