// One subscriber's event stream, independent of the transport (websocket_session.cpp carries
// it): the hello, the replay of stored events after `since` (read from the log a page at a
// time, only as fast as the client takes them), then live events from the hub, without a gap or
// a duplicate, through a bounded queue. docs/api.md ("The WebSocket stream") is the protocol.
//
// Memory per stream is bounded: at most `queue_limit` live events wait (shared with the other
// streams, rendered once), and at most one replay page (`replay_bytes` of text, or one event). A
// live stream whose queue overflows is closed (4001) with the seq to reconnect from; during a
// replay, an overflow only means the next page is read from the log instead.
//
// Threads: Offer and Shutdown come from the hub's publisher; replay pages arrive on storage
// reader threads; Take is called by the transport, one call at a time. `wake` tells the
// transport that Take may have something new; it may be called from any of those threads and
// must only schedule a Take (not call it).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "api/event_hub.h"
#include "api/event_subscription.h"
#include "core/mutex.h"
#include "storage/store.h"

namespace batchd::api {

struct EventStreamOptions {
  size_t queue_limit = 1024;  // live events waiting per stream before it is closed as slow
  int replay_page = 256;      // stored events read per replay query
  // A replay query also stops once its events' text (names, messages) passes this many bytes
  // (with at least one event), so the one page a stream holds stays small whatever the log
  // holds.
  size_t replay_bytes = size_t{256} << 10;
};

// WebSocket close codes the stream uses (docs/api.md).
inline constexpr int kCloseGoingAway = 1001;     // the daemon is stopping
inline constexpr int kCloseInternal = 1011;      // the event log could not be read
inline constexpr int kCloseTryLater = 1013;      // the daemon is too busy to replay now
inline constexpr int kCloseSlowConsumer = 4001;  // the client did not keep up

class EventStream : public EventSubscriber, public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(EventSubscription subscription, EventHub& hub, storage::Store& store,
              EventStreamOptions options, std::function<void()> wake);
  ~EventStream() override;  // leaves the hub

  // Joins the hub and starts the replay if `since` was given. kUnavailable if the hub is full
  // or stopping (the transport refuses the connection then).
  Status Start();

  struct Message {
    std::shared_ptr<const std::string> text;
    int64_t seq = 0;  // 0 for control messages (hello, resync, caught_up)
  };
  struct Close {
    int code = 0;
    std::string reason;  // at most 123 bytes, as WebSocket requires
  };
  using Next = std::variant<std::monostate, Message, Close>;

  // The next thing to send: a message, a close (once, after which nothing), or nothing yet (a
  // wake will follow when there is).
  Next Take();

  // A close the stream wants now, even while a write is in flight (a slow consumer, the daemon
  // stopping); once, after which Take gives nothing.
  std::optional<Close> TakeClose();

  // EventSubscriber.
  void Offer(const std::shared_ptr<const RenderedEvent>& event) override;
  void Shutdown() override;

 private:
  enum class Mode { kReplay, kLive };

  Next TakeLocked(bool* read_page) REQUIRES(mu_);
  void ReadPage();
  void OnPage(Result<storage::EventPage> page);
  void Wake();
  Message Control(const nlohmann::json& message);
  std::string ReconnectHint() const REQUIRES(mu_);

  const EventSubscription subscription_;
  EventHub& hub_;
  storage::Store& store_;
  const EventStreamOptions options_;
  const std::function<void()> wake_;

  mutable Mutex mu_;
  Mode mode_ GUARDED_BY(mu_) = Mode::kLive;
  int64_t hello_latest_ GUARDED_BY(mu_) = 0;
  bool hello_sent_ GUARDED_BY(mu_) = false;
  bool wake_pending_ GUARDED_BY(mu_) = false;
  std::deque<Message> control_ GUARDED_BY(mu_);
  std::deque<Message> replay_ GUARDED_BY(mu_);                              // one page at most
  std::deque<std::shared_ptr<const RenderedEvent>> inbox_ GUARDED_BY(mu_);  // live, bounded
  bool overflowed_ GUARDED_BY(mu_) = false;
  int64_t cursor_ GUARDED_BY(mu_) = 0;          // the log has been read up to here (replay)
  bool reading_ GUARDED_BY(mu_) = false;        // a replay query is in flight
  bool replay_more_ GUARDED_BY(mu_) = false;    // the last page was full
  int64_t last_sent_ GUARDED_BY(mu_) = 0;       // seq of the last event handed to the transport
  std::optional<Close> close_ GUARDED_BY(mu_);  // to be sent
  bool closed_ GUARDED_BY(mu_) = false;         // a close was handed out
};

}  // namespace batchd::api
