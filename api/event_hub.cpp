#include "api/event_hub.h"

#include <algorithm>

#include "api/event_json.h"

namespace batchd::api {

void EventHub::Publish(const std::vector<storage::EventRecord>& events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<const RenderedEvent>> rendered;
  rendered.reserve(events.size());
  for (const storage::EventRecord& e : events) {
    rendered.push_back(std::make_shared<const RenderedEvent>(
        RenderedEvent{e.seq, e.type, e.batch_public_id, e.session_id, EventJson(e).dump()}));
  }
  std::vector<std::shared_ptr<EventSubscriber>> live;
  {
    std::lock_guard lock(mu_);
    // The seq moves under the lock that Subscribe takes, so a new subscriber is offered exactly
    // the events after the seq it was given.
    latest_seq_ = std::max(latest_seq_, events.back().seq);
    events_published_ += static_cast<int64_t>(events.size());
    live.reserve(subscribers_.size());
    for (const auto& weak : subscribers_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (const auto& event : rendered) {
    for (const auto& s : live) s->Offer(event);
  }
}

Result<int64_t> EventHub::Subscribe(std::weak_ptr<EventSubscriber> subscriber) {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
  RETURN_IF_ERROR(CheckRoomLocked());
  subscribers_.push_back(std::move(subscriber));
  ++subscriptions_;
  return latest_seq_;
}

Status EventHub::CheckRoom() const {
  std::lock_guard lock(mu_);
  return CheckRoomLocked();
}

Status EventHub::CheckRoomLocked() const {
  if (shut_down_) return Status::Unavailable("the daemon is stopping");
  const auto live = std::count_if(subscribers_.begin(), subscribers_.end(),
                                  [](const auto& w) { return !w.expired(); });
  if (static_cast<size_t>(live) >= max_subscribers_) {
    return Status::Unavailable("too many event subscribers (" + std::to_string(max_subscribers_) +
                               "); retry later");
  }
  return Status::Ok();
}

void EventHub::Unsubscribe(const EventSubscriber* subscriber) {
  // Locking another subscriber's weak_ptr can make this thread its last owner (its connection
  // closed meanwhile); it is then destroyed here, and its destructor unsubscribes too. So the
  // references taken are dropped only after mu_ is released: `held` outlives `lock`.
  std::vector<std::shared_ptr<EventSubscriber>> held;
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [subscriber, &held](const auto& w) {
    std::shared_ptr<EventSubscriber> s = w.lock();
    if (!s) return true;
    const bool found = s.get() == subscriber;
    held.push_back(std::move(s));
    return found;
  });
}

void EventHub::Shutdown() {
  std::vector<std::shared_ptr<EventSubscriber>> live;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (const auto& weak : subscribers_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (const auto& s : live) s->Shutdown();
}

EventHub::Stats EventHub::GetStats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.subscribers = static_cast<size_t>(std::count_if(subscribers_.begin(), subscribers_.end(),
                                                    [](const auto& w) { return !w.expired(); }));
  s.latest_seq = latest_seq_;
  s.slow_consumers_closed = slow_consumers_closed_;
  s.subscriptions = subscriptions_;
  s.events_published = events_published_;
  return s;
}

}  // namespace batchd::api
