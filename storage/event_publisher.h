// Hands committed events to the event listener (the API's hub, which renders them to JSON and
// offers them to every subscriber) on a thread of its own, so that the single writer does only
// database work: after each commit the event log reads the new rows and hands them here.
//
// Delivery: the listener gets every event handed in, exactly once, in seq order, one call at a
// time; it never sees an event before its commit, since only committed events are handed in.
//
// Bounded: at most `max_queued_events` events wait in memory. Events handed in past that (or
// announced by seq range alone, PublishRange) are not kept; only their seq range is, and when
// its turn comes the publisher reads them back from the log (`read_log`, a page at a time) and
// delivers them like the others. So a listener that falls behind costs memory up to the bound,
// then reads of the log, but subscribers still get each event once and in order. The event
// log's retention never deletes an event the publisher still has to read (OldestUnread).
//
// Threads: Publish, PublishRange, Full and OldestUnread are called by one thread at a time (the
// writer's); the listener and `read_log` run on the publisher's thread; Stop from the thread
// closing the store, after the writer stopped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "storage/event_log_options.h"
#include "storage/event_record.h"

namespace batchd::storage {

// Reads committed events from the log (storage::ReadEvents on a connection of its own).
using EventLogReader = std::function<Result<EventPage>(const EventQuery&)>;

struct EventPublisherOptions {
  size_t max_queued_events = 16'384;
  int read_page = 1024;  // events per read of the log
  // A failed read of the log is tried again after this (then twice as long), three times in
  // all; then the events of that range are skipped with an error in the daemon's log.
  std::chrono::milliseconds read_retry_wait{100};
};

class EventPublisher {
 public:
  // Starts the thread. `listener` may be empty (events are then dropped as they come).
  EventPublisher(EventListener listener, EventLogReader read_log, EventPublisherOptions options);
  ~EventPublisher();  // Stop()s
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  // Committed events, in seq order, after every event handed in before. Never blocks on the
  // listener: past the bound only their seq range is kept. Ignored after Stop.
  void Publish(std::vector<EventRecord> events);

  // Committed events first_seq..last_seq (inclusive) that the caller did not read: they are
  // read from the log when their turn comes. Ignored after Stop.
  void PublishRange(int64_t first_seq, int64_t last_seq);

  // Whether the bound is reached: the caller may then announce new events by range instead of
  // reading them, since they would not be kept anyway.
  bool Full() const;

  // The lowest seq the publisher may still read from the log; INT64_MAX when none.
  int64_t OldestUnread() const;

  // Delivers everything handed in (reading what it must from the log), then joins the thread.
  // Idempotent.
  void Stop();

 private:
  // Events to deliver, or (events empty) the range first_seq..last_seq to read from the log.
  struct Item {
    std::vector<EventRecord> events;
    int64_t first_seq = 0;
    int64_t last_seq = 0;
  };

  void AddRangeLocked(int64_t first_seq, int64_t last_seq) REQUIRES(mu_);
  void Run();
  void Deliver(const std::vector<EventRecord>& events);
  void ReadAndDeliver(int64_t first_seq, int64_t last_seq);
  Result<EventPage> ReadWithRetries(const EventQuery& query);

  const EventListener listener_;
  const EventLogReader read_log_;
  const EventPublisherOptions options_;

  mutable Mutex mu_;
  CondVar ready_;
  std::deque<Item> queue_ GUARDED_BY(mu_);
  size_t queued_events_ GUARDED_BY(mu_) = 0;          // events in queue_ (not ranges)
  std::deque<int64_t> range_firsts_ GUARDED_BY(mu_);  // first_seq of each range in queue_
  std::optional<int64_t> reading_ GUARDED_BY(mu_);    // the next seq the current read wants
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace batchd::storage
