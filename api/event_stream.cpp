#include "api/event_stream.h"

#include "api/event_json.h"

namespace batchd::api {
namespace {

std::shared_ptr<const std::string> Text(const nlohmann::json& j) {
  return std::make_shared<const std::string>(j.dump());
}

}  // namespace

EventStream::EventStream(EventSubscription subscription, EventHub& hub, storage::Store& store,
                         EventStreamOptions options, std::function<void()> wake)
    : subscription_(std::move(subscription)),
      hub_(hub),
      store_(store),
      options_(options),
      wake_(std::move(wake)) {}

EventStream::~EventStream() { hub_.Unsubscribe(this); }

Status EventStream::Start() {
  // Joined before the first replay read, so every event committed after that read's snapshot
  // is offered here: replay + live has no gap (duplicates are dropped by seq).
  Result<int64_t> latest = hub_.Subscribe(shared_from_this());
  if (!latest.ok()) return latest.status();
  bool read = false;
  {
    MutexLock lock(mu_);
    hello_latest_ = *latest;
    if (subscription_.since) {
      mode_ = Mode::kReplay;
      cursor_ = *subscription_.since;
      last_sent_ = *subscription_.since;
      reading_ = read = true;
    } else {
      cursor_ = last_sent_ = *latest;
    }
  }
  if (read) ReadPage();
  Wake();  // the hello
  return Status::Ok();
}

EventStream::Message EventStream::Control(const nlohmann::json& message) {
  return Message{Text(message), 0};
}

std::string EventStream::ReconnectHint() const {
  return "reconnect with since=" + std::to_string(last_sent_);
}

void EventStream::Wake() {
  {
    MutexLock lock(mu_);
    if (wake_pending_) return;
    wake_pending_ = true;
  }
  wake_();
}

void EventStream::Offer(const std::shared_ptr<const RenderedEvent>& event) {
  if (!subscription_.filter.Matches(event->type, event->batch, event->session)) return;
  bool closing = false;
  {
    MutexLock lock(mu_);
    if (closed_ || close_ || overflowed_) return;
    if (inbox_.size() < options_.queue_limit) {
      inbox_.push_back(event);
    } else {
      // Let go of the queue at once: memory must not wait for the slow client. A replay just
      // reads the dropped events from the log later; a live client is closed.
      overflowed_ = true;
      inbox_.clear();
      if (mode_ == Mode::kLive) {
        close_ = Close{kCloseSlowConsumer, "slow consumer: over " +
                                               std::to_string(options_.queue_limit) +
                                               " events queued; " + ReconnectHint()};
        hub_.CountSlowConsumerClosed();
        closing = true;
      }
    }
  }
  // A close must reach the transport even while its write is stuck, so it always wakes.
  if (closing) {
    wake_();
  } else {
    Wake();
  }
}

void EventStream::Shutdown() {
  {
    MutexLock lock(mu_);
    if (closed_ || close_) return;
    close_ = Close{kCloseGoingAway, "the daemon is stopping; " + ReconnectHint()};
  }
  wake_();
}

std::optional<EventStream::Close> EventStream::TakeClose() {
  MutexLock lock(mu_);
  if (!close_) return std::nullopt;
  closed_ = true;
  return std::exchange(close_, std::nullopt);
}

EventStream::Next EventStream::Take() {
  bool read_page = false;
  Next next;
  {
    MutexLock lock(mu_);
    wake_pending_ = false;
    next = TakeLocked(&read_page);
  }
  if (read_page) ReadPage();
  return next;
}

EventStream::Next EventStream::TakeLocked(bool* read_page) {
  if (closed_) return {};
  if (!hello_sent_) {
    hello_sent_ = true;
    return Control(HelloJson(hello_latest_, subscription_.since));
  }
  if (close_) {
    closed_ = true;
    return *std::exchange(close_, std::nullopt);
  }
  if (!control_.empty()) {
    Message m = std::move(control_.front());
    control_.pop_front();
    return m;
  }
  if (!replay_.empty()) {
    Message m = std::move(replay_.front());
    replay_.pop_front();
    last_sent_ = m.seq;
    return m;
  }
  if (mode_ == Mode::kReplay) {
    if (reading_) return {};
    if (replay_more_ || overflowed_) {
      // More stored events, or live ones were dropped meanwhile: they are all in the log.
      overflowed_ = false;
      inbox_.clear();
      reading_ = *read_page = true;
      return {};
    }
    mode_ = Mode::kLive;
    last_sent_ = std::max(last_sent_, cursor_);
    return Control(CaughtUpJson(cursor_));
  }
  while (!inbox_.empty()) {
    std::shared_ptr<const RenderedEvent> e = std::move(inbox_.front());
    inbox_.pop_front();
    if (e->seq <= last_sent_) continue;  // already replayed from the log
    last_sent_ = e->seq;
    // Aliasing: the text lives as long as the event it belongs to.
    return Message{std::shared_ptr<const std::string>(e, &e->json), e->seq};
  }
  return {};
}

void EventStream::ReadPage() {
  storage::EventQuery q;
  {
    MutexLock lock(mu_);
    q.after_seq = cursor_;
  }
  q.batch_public_id = subscription_.filter.batch;
  q.session_id = subscription_.filter.session;
  q.types = subscription_.filter.types;
  q.limit = options_.replay_page;
  q.max_bytes = options_.replay_bytes;
  std::weak_ptr<EventStream> weak = weak_from_this();
  store_.ReadEvents(std::move(q), [weak](Result<storage::EventPage> page) {
    if (auto self = weak.lock()) self->OnPage(std::move(page));
  });
}

void EventStream::OnPage(Result<storage::EventPage> page) {
  {
    MutexLock lock(mu_);
    reading_ = false;
    if (!page.ok()) {
      if (!close_ && !closed_) {
        const bool busy = page.status().code() == StatusCode::kUnavailable;
        close_ = Close{busy ? kCloseTryLater : kCloseInternal,
                       std::string(busy ? "the daemon is busy" : "cannot read the event log") +
                           "; " + ReconnectHint()};
      }
    } else if (cursor_ + 1 < page->oldest_seq || cursor_ > page->latest_seq) {
      // Events after the cursor are gone (retention, possibly while a slow replay ran), or
      // `since` is ahead of this log: no replay can be exact.
      control_.push_back(Control(ResyncJson(cursor_, page->oldest_seq, page->latest_seq)));
      cursor_ = page->latest_seq;
      last_sent_ = page->latest_seq;
      replay_more_ = false;
    } else {
      for (const storage::EventRecord& e : page->events) {
        replay_.push_back(Message{Text(EventJson(e)), e.seq});
      }
      if (!page->events.empty()) cursor_ = page->events.back().seq;
      replay_more_ = page->more;
      // A last page covered the whole snapshot, also what the filter left out.
      if (!page->more) cursor_ = std::max(cursor_, page->latest_seq);
    }
  }
  Wake();
}

}  // namespace batchd::api
