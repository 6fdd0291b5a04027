#include "cli/watch.h"

#include <chrono>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli/batch_view.h"
#include "cli/exit_codes.h"
#include "cli/progress_printer.h"
#include "cli/session_errors.h"

namespace batchd::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How long the daemon may stay unreachable before the watch gives up, and the waits between
// attempts (doubling from the first, capped).
constexpr std::chrono::seconds kGiveUpAfter{60};
constexpr std::chrono::milliseconds kFirstRetry{200};
constexpr std::chrono::milliseconds kMaxRetry{5000};
// Errors from before the watch began that are listed one by one; the rest are counted.
constexpr int kEarlierErrors = 5;

int ExitCodeOf(const BatchView& view) {
  if (view.state == "completed") return kExitOk;
  if (view.state == "canceled") return kExitBatchCanceled;
  return kExitBatchFailed;
}

// "session 7 failed (permanent): message" for a session.state event that carries an error.
std::optional<std::string> DescribeSessionError(const json& e) {
  if (e.value("type", "") != "session.state") return std::nullopt;
  auto err = e.find("error");
  if (err == e.end() || !err->is_object()) return std::nullopt;
  const std::string kind = err->value("kind", "");
  if (kind == "canceled") return std::nullopt;
  std::optional<int64_t> attempt;
  if (auto a = e.find("attempt"); a != e.end() && a->is_number_integer()) {
    attempt = a->get<int64_t>();
  }
  return DescribeFailure(e.value("session", int64_t{0}), kind, e.value("to", "") == "uninitialized",
                         attempt, err->value("message", ""));
}

class Watcher {
 public:
  Watcher(CommandContext& ctx, std::string id) : ctx_(ctx), id_(std::move(id)), printer_(ctx) {}

  int Run() {
    std::chrono::milliseconds retry = kFirstRetry;
    Clock::time_point failing_since = Clock::now();
    bool ever_connected = false;
    for (;;) {
      std::optional<int> done;
      const Status lost = Follow(done);
      if (done) return *done;
      if (!ever_connected && !connected_) {
        // Never reached: a wrong address or a stopped daemon, say so at once.
        return ReportFailure(ctx_, "watching " + id_, lost);
      }
      if (connected_) {  // it worked until now: the clock and the backoff start again
        ever_connected = true;
        connected_ = false;
        failing_since = Clock::now();
        retry = kFirstRetry;
        printer_.Note("(" + lost.message() + "; reconnecting)");
      }
      if (Clock::now() - failing_since > kGiveUpAfter) {
        printer_.Note("batchd: lost the daemon at " + ctx_.daemon.address().ToString() + ": " +
                      lost.message());
        return kExitUnreachable;
      }
      std::this_thread::sleep_for(retry);
      retry = std::min(retry * 2, kMaxRetry);
    }
  }

 private:
  // One connection: open, catch up, follow. Sets `done` to the exit code when the watch is
  // over; otherwise returns why the connection ended.
  Status Follow(std::optional<int>& done) {
    std::string target = "/api/v1/events?batch=" + id_ + "&types=batch.*,session.state";
    if (since_) target += "&since=" + std::to_string(*since_);
    Result<std::unique_ptr<EventSocket>> socket = ctx_.daemon.OpenEvents(target);
    if (!socket.ok()) {
      if (socket.status().code() == StatusCode::kFailedPrecondition) {
        done = ReportFailure(ctx_, "watching " + id_, socket.status());
        return Status::Ok();
      }
      return socket.status();
    }
    connected_ = true;

    bool first = true;
    for (;;) {
      Result<std::variant<std::string, EventSocket::Closed>> next = (*socket)->Next();
      if (!next.ok()) return next.status();
      if (auto* closed = std::get_if<EventSocket::Closed>(&*next)) {
        return Status::Unavailable("the daemon closed the stream (" + std::to_string(closed->code) +
                                   " " + closed->reason + ")");
      }
      const json message = json::parse(std::get<std::string>(*next), nullptr, false);
      if (message.is_discarded()) continue;
      if (first) {
        first = false;
        // Subscribed first, then fetched: no change can fall between the two.
        if (!since_) since_ = message.value("latest_seq", int64_t{0});
        if (!view_ && !Refetch(done)) return Status::Ok();
        if (done) return Status::Ok();
        continue;
      }
      if (Handle(message, done)) return Status::Ok();
    }
  }

  // Reads the batch over REST (at the start, and after a resync). False (with `done` set) when
  // there is nothing to watch.
  bool Refetch(std::optional<int>& done) {
    Result<json> batch = RequestJson(ctx_, "GET", "/api/v1/batches/" + id_);
    if (!batch.ok()) {
      done = ReportFailure(ctx_, "watching " + id_, batch.status());
      return false;
    }
    view_ = BatchView::FromBatch(*batch);
    if (!errors_reported_ && view_->error > 0) ReportEarlierErrors();
    errors_reported_ = true;
    if (view_->Finished()) {
      printer_.Finish(*view_);
      done = ExitCodeOf(*view_);
      return true;
    }
    printer_.Show(*view_);
    return true;
  }

  // Errors from before the stream was open are not in it (a batch can even fail before its
  // watcher subscribes): the first few are read over REST, as `show` does, once per watch.
  void ReportEarlierErrors() {
    Result<std::vector<SessionError>> failed = FirstSessionErrors(ctx_, id_, kEarlierErrors);
    if (!failed.ok()) return;
    for (const SessionError& e : *failed) {
      printer_.Note(DescribeFailure(e.session, e.kind, false, e.attempts, e.message));
      reported_.insert({e.session, e.attempts});
    }
    if (view_->error > kEarlierErrors) {
      printer_.Note("... " + std::to_string(view_->error - kEarlierErrors) +
                    " more: GET /api/v1/batches/" + id_ + "/sessions?state=error");
    }
  }

  // Applies one message; true when the watch is over (`done` set).
  bool Handle(const json& m, std::optional<int>& done) {
    const std::string type = m.value("type", "");
    if (type == "resync") {
      printer_.Note("(" + m.value("message", "resync") + ")");
      since_ = m.value("latest_seq", *since_);
      view_.reset();
      return !Refetch(done) || done.has_value();
    }
    if (type == "caught_up") {
      since_ = std::max(*since_, m.value("latest_seq", int64_t{0}));
      return false;
    }
    if (!m.contains("seq")) return false;
    since_ = m["seq"].get<int64_t>();
    if (std::optional<std::string> error = DescribeSessionError(m)) {
      // An error both read over REST at the start and streamed (it happened between the
      // subscription and the read) is said once.
      const auto attempt = m.find("attempt");
      const bool said =
          attempt != m.end() && attempt->is_number_integer() &&
          reported_.count({m.value("session", int64_t{0}), attempt->get<int64_t>()}) > 0;
      if (!said) printer_.Note(*error);
      return false;
    }
    if (!view_) return false;
    const bool changed = view_->Apply(m);
    if (type == "batch.deleted") {
      printer_.Note("batchd: batch " + id_ + " was deleted");
      done = kExitRefused;
      return true;
    }
    if (type == "batch.finished" && view_->Finished()) {  // its state change came just before
      printer_.Finish(*view_);
      done = ExitCodeOf(*view_);
      return true;
    }
    if (changed) printer_.Show(*view_);
    return false;
  }

  CommandContext& ctx_;
  const std::string id_;
  ProgressPrinter printer_;
  std::optional<BatchView> view_;
  std::optional<int64_t> since_;  // the seq of the last event handled
  bool connected_ = false;        // the last Follow opened its stream
  bool errors_reported_ = false;  // the errors from before the first subscription were shown
  std::set<std::pair<int64_t, int64_t>> reported_;  // (session, attempt) read over REST
};

}  // namespace

int WatchBatch(CommandContext& ctx, const std::string& batch_id) {
  return Watcher(ctx, batch_id).Run();
}

}  // namespace batchd::cli
