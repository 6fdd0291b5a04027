// GET /api/v1/events without an upgrade: a page of the stored event log, for curl scripts that
// poll and for the dashboard's history (the newest N progress events of a batch). The same
// path with `Upgrade: websocket` is the live stream (websocket_session.cpp).
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/event_json.h"
#include "api/event_subscription.h"
#include "api/page_budget.h"
#include "api/route_helpers.h"
#include "api/routes.h"

namespace batchd::api {
namespace {

// The page as JSON text: the events while they fit in `max_page_bytes` (page_budget.h; the
// newest ones with ?tail), and where the next poll starts.
std::string PageJsonText(const storage::EventPage& page, const EventPageRequest& request,
                         size_t max_page_bytes) {
  std::vector<std::string> items;
  items.reserve(page.events.size());
  for (const storage::EventRecord& e : page.events) items.push_back(EventJson(e).dump());
  const size_t shown =
      request.tail ? LastItemsWithin(items, max_page_bytes) : ItemsWithin(items, max_page_bytes);
  const size_t first = request.tail ? items.size() - shown : 0;
  // A page cut short here ends like one the store cut short: more follow.
  const bool more = page.more || shown < items.size();
  const int64_t since = request.subscription.since.value_or(0);
  // Where the next poll starts: after the last item, or after everything this read covered.
  int64_t next = shown == 0 ? since : page.events[first + shown - 1].seq;
  if (!more && !request.tail) next = std::max(next, page.latest_seq);
  const bool resync = !request.tail && request.subscription.since &&
                      (since + 1 < page.oldest_seq || since > page.latest_seq);
  // Keys in nlohmann's sorted order, "items" first, as the DOM of the whole page would write.
  const std::string rest = nlohmann::json{
      {"latest_seq", page.latest_seq},
      {"more", more},
      {"next_cursor", std::to_string(next)},
      {"oldest_seq", page.oldest_seq},
      {"resync", resync}}.dump();
  return "{\"items\":" + JsonArrayOf(std::span(items).subspan(first, shown)) + "," + rest.substr(1);
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
    // The store stops at the same budget, counting only the events' text (which their JSON
    // holds at least once), so it never stops before this page would.
    q.max_bytes = ctx.options.max_page_bytes;
    ctx.store.ReadEvents(
        std::move(q),
        Answer<storage::EventPage>(respond, [req = *request, budget = ctx.options.max_page_bytes](
                                                const storage::EventPage& p) {
          return TextJsonResponse(200, PageJsonText(p, req, budget));
        }));
  });
}

}  // namespace batchd::api
