// GET /api/v1/events without an upgrade: a page of the stored event log, for curl scripts that
// poll and for the dashboard's history (the newest N progress events of a batch). The same
// path with `Upgrade: websocket` is the live stream (websocket_session.cpp).
#include <nlohmann/json.hpp>

#include "api/event_json.h"
#include "api/event_subscription.h"
#include "api/route_helpers.h"
#include "api/routes.h"

namespace batchd::api {
namespace {

nlohmann::json PageJson(const storage::EventPage& page, const EventPageRequest& request) {
  nlohmann::json items = nlohmann::json::array();
  for (const storage::EventRecord& e : page.events) items.push_back(EventJson(e));
  const int64_t since = request.subscription.since.value_or(0);
  // Where the next poll starts: after the last item, or after everything this read covered.
  int64_t next = page.events.empty() ? since : page.events.back().seq;
  if (!page.more && !request.tail) next = std::max(next, page.latest_seq);
  const bool resync = !request.tail && request.subscription.since &&
                      (since + 1 < page.oldest_seq || since > page.latest_seq);
  return {
      {"items", std::move(items)},     {"next_cursor", std::to_string(next)}, {"more", page.more},
      {"oldest_seq", page.oldest_seq}, {"latest_seq", page.latest_seq},       {"resync", resync}};
}

}  // namespace

void RegisterEventRoutes(Router& router, const ApiContext& ctx) {
  router.Add("GET", "/api/v1/events", [ctx](HttpRequest& r, Responder respond) {
    Result<EventPageRequest> request = ParseEventPageRequest(r);
    if (!request.ok()) return respond(ErrorResponse(request.status()));
    storage::EventQuery q;
    q.after_seq = request->subscription.since.value_or(0);
    q.batch_public_id = request->subscription.filter.batch;
    q.session_id = request->subscription.filter.session;
    q.types = request->subscription.filter.types;
    q.limit = request->limit;
    q.tail = request->tail;
    ctx.store.ReadEvents(std::move(q), Answer<storage::EventPage>(
                                           respond, [req = *request](const storage::EventPage& p) {
                                             return JsonResponse(200, PageJson(p, req));
                                           }));
  });
}

}  // namespace batchd::api
