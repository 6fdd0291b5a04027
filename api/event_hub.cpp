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
    MutexLock lock(mu_);
    // The seq moves under the lock that Subscribe takes, so a new subscriber is offered exactly
    // the events after the seq it was given.
    latest_seq_ = std::max(latest_seq_, events.back().seq);
    events_published_ += static_cast<int64_t>(events.size());
    live.reserve(subscribers_.size());
    for (const auto& [key, weak] : subscribers_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  // `live` is released after mu_: a subscriber whose last owner this becomes unsubscribes then.
  for (const auto& event : rendered) {
    for (const auto& s : live) s->Offer(event);
  }
}

Result<int64_t> EventHub::Subscribe(const std::shared_ptr<EventSubscriber>& subscriber) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(CheckRoomLocked());
  subscribers_.insert_or_assign(subscriber.get(), subscriber);
  ++subscriptions_;
  return latest_seq_;
}

Status EventHub::CheckRoom() const {
  MutexLock lock(mu_);
  return CheckRoomLocked();
}

Status EventHub::CheckRoomLocked() const {
  if (shut_down_) return Status::Unavailable("the daemon is stopping");
  if (subscribers_.size() >= max_subscribers_) {
    return Status::Unavailable("too many event subscribers (" + std::to_string(max_subscribers_) +
                               "); retry later");
  }
  return Status::Ok();
}

void EventHub::Unsubscribe(const EventSubscriber* subscriber) {
  MutexLock lock(mu_);
  subscribers_.erase(subscriber);
}

void EventHub::Shutdown() {
  std::vector<std::shared_ptr<EventSubscriber>> live;
  {
    MutexLock lock(mu_);
    shut_down_ = true;
    for (const auto& [key, weak] : subscribers_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (const auto& s : live) s->Shutdown();
}

EventHub::Stats EventHub::GetStats() const {
  MutexLock lock(mu_);
  Stats s;
  s.subscribers = subscribers_.size();
  s.latest_seq = latest_seq_;
  s.slow_consumers_closed = slow_consumers_closed_;
  s.subscriptions = subscriptions_;
  s.events_published = events_published_;
  return s;
}

}  // namespace batchd::api
