// The batch written straight to text (api/batch_json_text.h) is byte for byte what the DOM
// definition (api/json_views.h BatchJson) dumps, for every shape of batch: optional members
// null and set, names that need escaping, results of any JSON, pages with and without a cursor.
#include "api/batch_json_text.h"

#include <gtest/gtest.h>

#include "api/json_views.h"

namespace batchd::api {
namespace {

std::vector<storage::BatchRecord> Batches() {
  storage::BatchRecord plain;
  plain.public_id = "3f9c0a7d12e4b6c8";
  plain.name = "t2m stats";
  plain.state = storage::BatchState::kQueued;
  plain.priority = 0;
  plain.runs = 1;
  plain.max_attempts = 3;
  plain.session_count = 12;
  plain.counts = {.uninitialized = 12};
  plain.created_at_ms = 1'795'334'400'123;
  plain.event_seq = 41;

  storage::BatchRecord full = plain;
  full.name = "quote\" backslash\\ newline\n tab\t cr\r bs\b ff\f nul" + std::string(1, '\0') +
              " ctl\x01\x1f del\x7f utf8 é € 😀 slash/";
  full.state = storage::BatchState::kCompleted;
  full.priority = -5;
  full.runs = 7;
  full.max_running = 4;
  full.max_attempts = 1;
  full.session_count = 1'000'000;
  full.counts = {.uninitialized = 1, .in_progress = 2, .completed = 3, .error = 4, .canceled = 5};
  full.finished_at_ms = 1'795'334'401'999;
  full.result_json =
      R"({"sum": 1.5e3, "count": 10, "a": [1, {"z": null, "b": "x"}], "nan_count": 0})";
  full.event_seq = 0;

  storage::BatchRecord odd_result = plain;
  odd_result.result_json = "not json";  // never stored, but it must not differ either
  storage::BatchRecord empty_name = plain;
  empty_name.name = "";
  empty_name.state = storage::BatchState::kEnqueuing;
  return {plain, full, odd_result, empty_name};
}

TEST(BatchJsonTextTest, EqualsTheDomDefinitionByteForByte) {
  for (const storage::BatchRecord& b : Batches()) {
    std::string text;
    AppendBatchJsonText(text, b);
    EXPECT_EQ(text, BatchJson(b).dump()) << b.name;
  }
}

TEST(BatchJsonTextTest, APageEqualsTheDomPage) {
  storage::Page<storage::BatchRecord> page;
  page.items = Batches();
  page.next_cursor = 123;
  auto dom = [](const storage::Page<storage::BatchRecord>& p) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& b : p.items) items.push_back(BatchJson(b));
    return nlohmann::json{
        {"items", items},
        {"next_cursor",
         p.next_cursor ? nlohmann::json(std::to_string(*p.next_cursor)) : nlohmann::json()}}
        .dump();
  };
  EXPECT_EQ(BatchPageJsonText(page), dom(page));
  page.next_cursor.reset();
  EXPECT_EQ(BatchPageJsonText(page), dom(page));
  page.items.clear();
  EXPECT_EQ(BatchPageJsonText(page), "{\"items\":[],\"next_cursor\":null}");
}

// Issue 10, item 2(d): a page ends before the batch that would take its items past the byte
// budget, with the cursor after the last batch shown; one batch larger than the budget is
// shown alone, so paging advances.
TEST(BatchJsonTextTest, APageEndsEarlyAtItsByteBudgetWithTheCursorOfItsLastBatch) {
  storage::Page<storage::BatchRecord> page;
  for (int i = 0; i < 5; ++i) {
    storage::BatchRecord b = Batches()[0];
    b.id = 100 - i;  // newest first
    b.name = std::string(1000, static_cast<char>('a' + i));
    page.items.push_back(b);
  }
  page.next_cursor.reset();  // as if the store had no more
  std::string one;
  AppendBatchJsonText(one, page.items[0]);
  // Room for two batches and the comma between them, not three.
  const std::string text = BatchPageJsonText(page, 2 * one.size() + 1);
  const nlohmann::json parsed = nlohmann::json::parse(text);
  ASSERT_EQ(parsed["items"].size(), 2u) << text.size();
  EXPECT_EQ(parsed["items"][1]["name"], page.items[1].name);
  EXPECT_EQ(parsed["next_cursor"], "99");

  const nlohmann::json alone = nlohmann::json::parse(BatchPageJsonText(page, 10));
  ASSERT_EQ(alone["items"].size(), 1u);
  EXPECT_EQ(alone["next_cursor"], "100");

  // Everything fits: the store's cursor is kept.
  page.next_cursor = 96;
  const nlohmann::json all = nlohmann::json::parse(BatchPageJsonText(page, 1 << 20));
  EXPECT_EQ(all["items"].size(), 5u);
  EXPECT_EQ(all["next_cursor"], "96");
}

}  // namespace
}  // namespace batchd::api
