// Fan-out of committed events to the connected event streams (Beast's chat-multi shape): the
// event publisher (storage/event_publisher.h) hands each committed batch of events to Publish,
// on its own thread (never the database writer's), which renders each event once and
// offers it to every subscriber, copying weak_ptrs under the lock and offering after releasing
// it, so a slow or dying subscriber never holds anyone up. Subscribers bound their own queues.
// Subscribers are keyed by their address, as chat-multi keys its sessions: Unsubscribe (called
// from a subscriber's destructor) erases its key without locking anyone's weak_ptr, so it can
// never become the last owner of another subscriber and run that one's destructor under mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "storage/event_record.h"

namespace batchd::api {

// An event rendered once for every subscriber.
struct RenderedEvent {
  int64_t seq = 0;
  storage::EventType type = storage::EventType::kBatchState;
  std::string batch;
  std::optional<int64_t> session;
  std::string json;  // the text frame
};

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // A published event, on the event publisher's thread. Must not block: keep it (boundedly) or
  // drop it.
  virtual void Offer(const std::shared_ptr<const RenderedEvent>& event) = 0;
  // The daemon is stopping: close soon.
  virtual void Shutdown() = 0;
};

class EventHub {
 public:
  explicit EventHub(size_t max_subscribers) : max_subscribers_(max_subscribers) {}

  // Renders `events` (in seq order) and offers each to every subscriber. Called by the event
  // log's listener on the event publisher's thread; never blocks on a subscriber.
  void Publish(const std::vector<storage::EventRecord>& events);

  // Adds a subscriber; it is offered every event published after the returned seq (the latest
  // published so far). kUnavailable when max_subscribers are connected or the hub shut down.
  // The hub keeps a weak reference; the subscriber must call Unsubscribe before its memory is
  // freed (its destructor does). The caller's reference outlives the call.
  Result<int64_t> Subscribe(const std::shared_ptr<EventSubscriber>& subscriber);
  // Forgets the subscriber at this address; takes no reference to any subscriber.
  void Unsubscribe(const EventSubscriber* subscriber);
  // Whether Subscribe would succeed now (for refusing an upgrade with a plain HTTP 503).
  Status CheckRoom() const;

  // Tells every subscriber to close and refuses new ones. Idempotent.
  void Shutdown();

  void CountSlowConsumerClosed() { ++slow_consumers_closed_; }

  struct Stats {
    size_t subscribers = 0;
    int64_t latest_seq = 0;
    int64_t slow_consumers_closed = 0;
    int64_t subscriptions = 0;     // subscribers accepted since start
    int64_t events_published = 0;  // events rendered and offered since start
  };
  Stats GetStats() const;

 private:
  Status CheckRoomLocked() const REQUIRES(mu_);

  const size_t max_subscribers_;
  mutable Mutex mu_;
  std::unordered_map<const EventSubscriber*, std::weak_ptr<EventSubscriber>> subscribers_
      GUARDED_BY(mu_);
  int64_t latest_seq_ GUARDED_BY(mu_) = 0;
  int64_t subscriptions_ GUARDED_BY(mu_) = 0;
  int64_t events_published_ GUARDED_BY(mu_) = 0;
  bool shut_down_ GUARDED_BY(mu_) = false;
  std::atomic<int64_t> slow_consumers_closed_{0};
};

}  // namespace batchd::api
