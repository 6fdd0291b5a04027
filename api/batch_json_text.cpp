#include "api/batch_json_text.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/json_views.h"
#include "core/json_string.h"

namespace batchd::api {
namespace {

void AppendInt(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace

void AppendBatchJsonText(std::string& out, const storage::BatchRecord& b) {
  const storage::SessionCounts& c = b.counts;
  // Keys in sorted order, as nlohmann's std::map-backed objects write them.
  out += "{\"counts\":{\"canceled\":";
  AppendInt(out, c.canceled);
  out += ",\"completed\":";
  AppendInt(out, c.completed);
  out += ",\"error\":";
  AppendInt(out, c.error);
  out += ",\"in_progress\":";
  AppendInt(out, c.in_progress);
  out += ",\"uninitialized\":";
  AppendInt(out, c.uninitialized);
  out += "},\"created_at\":";
  AppendJsonString(out, FormatUtcMillis(b.created_at_ms));
  out += ",\"event_seq\":";
  AppendInt(out, b.event_seq);
  out += ",\"finished_at\":";
  if (b.finished_at_ms) {
    AppendJsonString(out, FormatUtcMillis(*b.finished_at_ms));
  } else {
    out += "null";
  }
  out += ",\"id\":";
  AppendJsonString(out, b.public_id);
  out += ",\"max_attempts\":";
  AppendInt(out, b.max_attempts);
  out += ",\"max_running\":";
  if (b.max_running) {
    AppendInt(out, *b.max_running);
  } else {
    out += "null";
  }
  out += ",\"name\":";
  AppendJsonString(out, b.name);
  out += ",\"priority\":";
  AppendInt(out, b.priority);
  out += ",\"result\":";
  // Rare (folding ops only) and arbitrary JSON: normalized through nlohmann, as BatchJson does.
  out += b.result_json ? nlohmann::json::parse(*b.result_json, nullptr, false).dump() : "null";
  out += ",\"runs\":";
  AppendInt(out, b.runs);
  out += ",\"sessions\":";
  out += std::to_string(b.session_count);
  out += ",\"state\":";
  AppendJsonString(out, storage::BatchStateName(b.state));
  out += '}';
}

std::string BatchPageJsonText(const storage::Page<storage::BatchRecord>& page,
                              size_t max_page_bytes) {
  std::string out;
  out.reserve(64 + page.items.size() * 360);
  out += "{\"items\":[";
  // Written in place (this is the API's hottest list): an item that passes the budget is
  // taken back out, and the page ends before it.
  size_t shown = 0;
  size_t items_bytes = 0;
  for (; shown < page.items.size(); ++shown) {
    const size_t mark = out.size();
    if (shown > 0) out += ',';
    AppendBatchJsonText(out, page.items[shown]);
    const size_t size = out.size() - mark;
    if (shown > 0 && size > max_page_bytes - std::min(items_bytes, max_page_bytes)) {
      out.resize(mark);
      break;
    }
    items_bytes += size;
  }
  const std::optional<int64_t> cursor = shown < page.items.size()
                                            ? std::optional<int64_t>(page.items[shown - 1].id)
                                            : page.next_cursor;
  out += "],\"next_cursor\":";
  if (cursor) {
    out += '"';
    out += std::to_string(*cursor);
    out += '"';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

}  // namespace batchd::api
