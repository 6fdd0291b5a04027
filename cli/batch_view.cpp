#include "cli/batch_view.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace batchd::cli {
namespace {

int64_t Count(const nlohmann::json& counts, const char* name) {
  auto it = counts.find(name);
  return it != counts.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::optional<double> Number(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string Percent(const BatchView& v) {
  const double pct = v.sessions > 0 ? 100.0 * static_cast<double>(v.Done()) / v.sessions : 100.0;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", pct);
  return buf;
}

// Thousands separators: 1234567 -> "1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return (n < 0 ? "-" : "") + out;
}

// The time a REST read happened, in the events' format, so every line has a time.
std::string NowUtc() {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

BatchView BatchView::FromBatch(const nlohmann::json& b) {
  BatchView v;
  v.time = NowUtc();
  v.id = b.value("id", "");
  v.name = b.value("name", "");
  v.state = b.value("state", "");
  v.sessions = b.value("sessions", int64_t{0});
  v.seq = b.value("event_seq", int64_t{0});
  const nlohmann::json counts = b.value("counts", nlohmann::json::object());
  v.uninitialized = Count(counts, "uninitialized");
  v.in_progress = Count(counts, "in_progress");
  v.completed = Count(counts, "completed");
  v.error = Count(counts, "error");
  v.canceled = Count(counts, "canceled");
  return v;
}

bool BatchView::Apply(const nlohmann::json& e) {
  const std::string type = e.value("type", "");
  if (!type.starts_with("batch.") || e.value("batch", "") != id) return false;
  const int64_t event_seq = e.value("seq", int64_t{0});
  if (event_seq <= seq) return false;  // the REST read already reflected it
  seq = event_seq;
  if (type == "batch.deleted") {
    state = "deleted";
    return true;
  }
  const BatchView before = *this;
  if (auto s = e.find("state"); s != e.end() && s->is_string()) state = *s;
  if (auto c = e.find("counts"); c != e.end() && c->is_object()) {
    uninitialized = Count(*c, "uninitialized");
    in_progress = Count(*c, "in_progress");
    completed = Count(*c, "completed");
    error = Count(*c, "error");
    canceled = Count(*c, "canceled");
  }
  if (type == "batch.progress") {
    sessions_per_s = Number(e, "sessions_per_s");
    eta_s = Number(e, "eta_s");
  }
  if (Finished() || state == "paused") eta_s.reset();
  time = e.value("time", time);
  return state != before.state || uninitialized != before.uninitialized ||
         in_progress != before.in_progress || completed != before.completed ||
         error != before.error || canceled != before.canceled ||
         sessions_per_s != before.sessions_per_s;
}

std::string FormatRate(double per_s) {
  char buf[32];
  if (per_s >= 100) {
    return Grouped(static_cast<int64_t>(std::llround(per_s)));
  }
  std::snprintf(buf, sizeof buf, "%.1f", per_s);
  return buf;
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::ceil(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::string PlainLine(const BatchView& v) {
  std::string out =
      (v.time.empty() ? "" : v.time + " ") + v.id + " " + v.state + " " + std::to_string(v.Done()) +
      "/" + std::to_string(v.sessions) + " (" + Percent(v) +
      ") completed=" + std::to_string(v.completed) + " error=" + std::to_string(v.error) +
      " canceled=" + std::to_string(v.canceled) + " in_progress=" + std::to_string(v.in_progress);
  if (v.sessions_per_s) out += " rate=" + FormatRate(*v.sessions_per_s) + "/s";
  if (v.eta_s) out += " eta=" + FormatDuration(*v.eta_s);
  return out;
}

std::string BarLine(const BatchView& v, int width) {
  std::string tail = " " + Percent(v) + " " + Grouped(v.Done()) + "/" + Grouped(v.sessions) +
                     "  ok " + Grouped(v.completed) + "  err " + Grouped(v.error) + "  cancel " +
                     Grouped(v.canceled);
  if (v.sessions_per_s) tail += "  " + FormatRate(*v.sessions_per_s) + "/s";
  if (v.eta_s) tail += "  ETA " + FormatDuration(*v.eta_s);
  const std::string head = v.id + " " + v.state + " ";
  // The bar keeps one width while the numbers beside it grow (room for the longest tail of a
  // million-session batch), between 10 and 30 columns; a very narrow terminal cuts the line.
  constexpr int kLongestTail = 76;
  const int bar = std::clamp(width - static_cast<int>(head.size()) - kLongestTail, 10, 30);
  const double fraction =
      v.sessions > 0 ? static_cast<double>(v.Done()) / static_cast<double>(v.sessions) : 1.0;
  const int filled = static_cast<int>(std::floor(fraction * bar));
  std::string line =
      head + "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "]" + tail;
  if (static_cast<int>(line.size()) > width && width > 0) line.resize(width);
  return line;
}

std::string Summary(const BatchView& v) {
  std::string out = "batch " + v.id + (v.name.empty() ? "" : " (" + v.name + ")") + " " + v.state +
                    ": " + Grouped(v.sessions) + " sessions, " + Grouped(v.completed) +
                    " completed, " + Grouped(v.error) + (v.error == 1 ? " error, " : " errors, ") +
                    Grouped(v.canceled) + " canceled";
  return out;
}

}  // namespace batchd::cli
