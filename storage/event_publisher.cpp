#include "storage/event_publisher.h"

#include <cstdint>
#include <exception>

#include <spdlog/spdlog.h>

namespace batchd::storage {
namespace {

constexpr int kReadAttempts = 3;

}  // namespace

EventPublisher::EventPublisher(EventListener listener, EventLogReader read_log,
                               EventPublisherOptions options)
    : listener_(std::move(listener)), read_log_(std::move(read_log)), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

EventPublisher::~EventPublisher() { Stop(); }

void EventPublisher::Publish(std::vector<EventRecord> events) {
  if (events.empty()) return;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    if (queued_events_ + events.size() > options_.max_queued_events) {
      AddRangeLocked(events.front().seq, events.back().seq);  // the records go: memory first
    } else {
      queued_events_ += events.size();
      queue_.push_back(Item{.events = std::move(events)});
    }
  }
  ready_.Signal();
}

void EventPublisher::PublishRange(int64_t first_seq, int64_t last_seq) {
  if (last_seq < first_seq) return;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    AddRangeLocked(first_seq, last_seq);
  }
  ready_.Signal();
}

void EventPublisher::AddRangeLocked(int64_t first_seq, int64_t last_seq) {
  if (!queue_.empty() && queue_.back().events.empty()) {
    queue_.back().last_seq = last_seq;  // adjoins the range before it
    return;
  }
  queue_.push_back(Item{.first_seq = first_seq, .last_seq = last_seq});
  range_firsts_.push_back(first_seq);
}

bool EventPublisher::Full() const {
  MutexLock lock(mu_);
  return queued_events_ >= options_.max_queued_events;
}

int64_t EventPublisher::OldestUnread() const {
  MutexLock lock(mu_);
  if (reading_) return *reading_;
  return range_firsts_.empty() ? INT64_MAX : range_firsts_.front();
}

void EventPublisher::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  ready_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void EventPublisher::Run() {
  for (;;) {
    Item item;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) ready_.Wait(mu_);
      if (queue_.empty()) return;  // stopping, and everything delivered
      item = std::move(queue_.front());
      queue_.pop_front();
      queued_events_ -= item.events.size();
      if (item.events.empty()) {
        // Still protected from retention while it is read.
        reading_ = range_firsts_.front();
        range_firsts_.pop_front();
      }
    }
    if (!item.events.empty()) {
      Deliver(item.events);
    } else {
      ReadAndDeliver(item.first_seq, item.last_seq);
      MutexLock lock(mu_);
      reading_.reset();
    }
  }
}

void EventPublisher::Deliver(const std::vector<EventRecord>& events) {
  if (!listener_) return;
  try {
    listener_(events);
  } catch (const std::exception& e) {
    // The next events must still go out; the subscribers that missed these can replay them.
    spdlog::error("publishing events {}..{}: {}", events.front().seq, events.back().seq, e.what());
  }
}

void EventPublisher::ReadAndDeliver(int64_t first_seq, int64_t last_seq) {
  int64_t after = first_seq - 1;
  while (after < last_seq) {
    Result<EventPage> page = ReadWithRetries({.after_seq = after, .limit = options_.read_page});
    if (!page.ok()) {
      spdlog::error("events {}..{} were not published (subscribers can replay them): {}", after + 1,
                    last_seq, page.status().ToString());
      return;
    }
    if (page->oldest_seq > after + 1) {
      spdlog::error("events {}..{} were deleted before they were published", after + 1,
                    page->oldest_seq - 1);
    }
    std::vector<EventRecord> events;
    for (EventRecord& e : page->events) {
      if (e.seq > last_seq) break;  // committed later; handed in after this range
      events.push_back(std::move(e));
    }
    if (events.empty()) return;  // no more rows in the range (seqs may have holes)
    after = events.back().seq;
    {
      MutexLock lock(mu_);
      reading_ = after + 1;  // these are in memory now: retention may have their rows
    }
    Deliver(events);
  }
}

Result<EventPage> EventPublisher::ReadWithRetries(const EventQuery& query) {
  if (!read_log_) return Status::Internal("no reader for the event log");
  std::chrono::milliseconds wait = options_.read_retry_wait;
  for (int attempt = 1;; ++attempt) {
    Result<EventPage> page = read_log_(query);
    if (page.ok() || attempt == kReadAttempts) return page;
    spdlog::warn("reading events after {} to publish them: {}; trying again", query.after_seq,
                 page.status().ToString());
    std::this_thread::sleep_for(wait);
    wait *= 2;
  }
}

}  // namespace batchd::storage
