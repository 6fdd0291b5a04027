#include "api/results_export.h"

#include <nlohmann/json.hpp>

#include "api/csv_text.h"

namespace batchd::api {
namespace {

using nlohmann::json;

// Stored texts (an error message from a remote store) may hold any bytes: they are replaced,
// not refused, so one odd message never cuts an export off.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The stored result as JSON text, compact (a JSON line must not break across lines); a stored
// text that does not parse is shown as null, as the session endpoint does.
std::string ResultText(const std::optional<std::string>& stored) {
  if (!stored) return "";
  const json result = json::parse(*stored, nullptr, false);
  return Dump(result.is_discarded() ? json() : result);
}

class ResultsStream final : public BodyStream, public std::enable_shared_from_this<ResultsStream> {
 public:
  ResultsStream(storage::Store& store, std::string batch_public_id, ResultsLayout layout,
                ResultsPaging paging)
      : store_(store),
        batch_public_id_(std::move(batch_public_id)),
        layout_(std::move(layout)),
        paging_(paging) {}

  // Called again only after `deliver` ran (BodyStream), so the cursor is never read and written
  // at once; the store's queue orders the threads' accesses to it.
  void Next(Deliver deliver) override {
    if (done_) return deliver(std::string());
    storage::SessionResultsQuery query{.batch_public_id = batch_public_id_,
                                       .after_id = cursor_,
                                       .limit = paging_.rows,
                                       .max_bytes = paging_.result_bytes};
    store_.ListSessionResults(
        std::move(query), [self = shared_from_this(), deliver = std::move(deliver)](
                              Result<storage::Page<storage::SessionResultRow>> page) {
          if (!page.ok()) return deliver(page.status());
          std::string text;
          if (!self->started_) text = ResultsHeader(self->layout_.format);
          self->started_ = true;
          for (const storage::SessionResultRow& row : page->items) {
            AppendResultRow(text, self->layout_, row);
          }
          self->cursor_ = page->next_cursor;
          self->done_ = !page->next_cursor;
          deliver(std::move(text));  // empty only for a batch without sessions: the end
        });
  }

 private:
  storage::Store& store_;
  const std::string batch_public_id_;
  const ResultsLayout layout_;
  const ResultsPaging paging_;
  std::optional<int64_t> cursor_;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace

Result<ResultsFormat> ParseResultsFormat(const HttpRequest& request) {
  auto it = request.query.find("format");
  if (it == request.query.end() || it->second == "jsonl") return ResultsFormat::kJsonl;
  if (it->second == "csv") return ResultsFormat::kCsv;
  return Status::Malformed("format must be jsonl or csv, got '" + it->second + "'", "?format");
}

std::string ResultsHeader(ResultsFormat format) {
  if (format == ResultsFormat::kJsonl) return "";
  std::string out;
  bool first = true;
  for (const std::string_view column : kResultsCsvColumns) {
    if (!first) out.push_back(',');
    first = false;
    out.append(column);
  }
  out.append("\r\n");
  return out;
}

void AppendResultRow(std::string& out, const ResultsLayout& layout,
                     const storage::SessionResultRow& row) {
  const SessionIndex index = IndexOfOrdinal(layout.shape, row.ordinal);
  const json values = SessionValues(layout.spec, index);
  const char* state = storage::SessionStateName(row.state);
  if (layout.format == ResultsFormat::kJsonl) {
    json line = {{"session_id", row.id},     {"ordinal", row.ordinal}, {"run", index.run},
                 {"index", index.index},     {"values", values},       {"state", state},
                 {"attempts", row.attempts}, {"result", nullptr},      {"error", nullptr}};
    if (row.result_json) {
      json result = json::parse(*row.result_json, nullptr, false);
      if (!result.is_discarded()) line["result"] = std::move(result);
    }
    if (row.error_kind) {
      line["error"] = {{"kind", *row.error_kind}, {"message", row.error_message.value_or("")}};
    }
    out.append(Dump(line)).push_back('\n');
    return;
  }
  const std::string id = std::to_string(row.id);
  const std::string ordinal = std::to_string(row.ordinal);
  const std::string run = std::to_string(index.run);
  const std::string attempts = std::to_string(row.attempts);
  AppendCsvRecord(out, {id, ordinal, run, Dump(json(index.index)), Dump(values), state, attempts,
                        ResultText(row.result_json), row.error_kind.value_or(""),
                        row.error_message.value_or("")});
}

std::shared_ptr<BodyStream> MakeResultsStream(storage::Store& store, std::string batch_public_id,
                                              ResultsLayout layout, ResultsPaging paging) {
  return std::make_shared<ResultsStream>(store, std::move(batch_public_id), std::move(layout),
                                         paging);
}

}  // namespace batchd::api
