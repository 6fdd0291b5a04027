// Bad data never gives wrong numbers or takes the daemon down: each broken array fails its own
// session with an error that names the chunk or the metadata member, once (no retries of a
// permanent error), while the other sessions of the batch complete.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

void Overwrite(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

void EditZarray(const std::filesystem::path& array,
                const std::function<void(nlohmann::json&)>& edit) {
  std::ifstream in(array / ".zarray");
  nlohmann::json doc = nlohmann::json::parse(in);
  edit(doc);
  Overwrite(array / ".zarray", doc.dump());
}

TEST(PipelineBadDataTest, EachBrokenArrayFailsItsOwnSessionWithAClearError) {
  TempDir root;
  std::vector<ArraySpec> specs;
  for (const char* name : {"good1", "corrupt", "truncated", "wrongtype", "lzma", "good2"}) {
    specs.push_back(
        {root.path() / name, {"--shape", "30,40", "--chunks", "10,20", "--compressor", "zstd"}});
  }
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  Overwrite(root.path() / "corrupt" / "0.1", "this is not a zstd frame at all");
  {
    const auto chunk = root.path() / "truncated" / "1.0";
    const auto size = std::filesystem::file_size(chunk);
    std::filesystem::resize_file(chunk, size / 2);
  }
  EditZarray(root.path() / "wrongtype", [](nlohmann::json& d) { d["shape"] = "30,40"; });
  EditZarray(root.path() / "lzma", [](nlohmann::json& d) {
    d["compressor"] = {{"id", "lzma"}, {"preset", 1}};
  });
  // A directory outside the configured root, reached with "..".
  TempDir elsewhere;
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> outside,
      MakeArrays({{elsewhere.path() / "x", {"--shape", "10,10", "--chunks", "5,5"}}}));
  const std::string escape =
      FileUrl(root.path()) + "/../" + elsewhere.path().filename().string() + "/x";

  TempDir data;
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = data.path();
  options.extra_args = {"--file-root", root.path().string(), "--retry-backoff-ms", "10"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DaemonProcess> daemon, DaemonProcess::Start(options));
  HttpClient client(daemon->port());

  std::vector<std::string> urls;
  for (const ArraySpec& s : specs) urls.push_back(FileUrl(s.path));
  // A URL outside the file roots is known to be bad without reading anything: the submit is
  // refused naming its item (issue 10, item 6), and nothing is stored.
  {
    std::vector<std::string> with_escape = urls;
    with_escape.push_back(escape);
    nlohmann::json refused = {{"name", "escape"},
                              {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
                              {"data", {{{{"field", "/source/url"}, {"items", with_escape}}}}}};
    ASSERT_OK_AND_ASSIGN(HttpResponse r, client.Post("/api/v1/batches", refused.dump()));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.Json()["error"]["path"], "/data/0/0/items/6") << r.body;
    EXPECT_NE(r.body.find("outside"), std::string::npos) << r.body;
  }
  nlohmann::json batch = {{"name", "bad data"},
                          {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
                          {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client, batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client, id, "failed", std::chrono::seconds(120)));
  EXPECT_EQ(done["counts"]["completed"], 2) << done.dump();
  EXPECT_EQ(done["counts"]["error"], 4) << done.dump();

  const std::map<std::string, std::vector<std::string>> expected_words = {
      {urls[1], {"chunk 0.1", "zstd"}},
      {urls[2], {"chunk 1.0"}},
      {urls[3], {".zarray", "\"shape\""}},
      {urls[4], {".zarray", "lzma"}},
  };
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client, id));
  ASSERT_EQ(ids.size(), urls.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                         GetJson(client, "/api/v1/sessions/" + std::to_string(ids[i])));
    SCOPED_TRACE(s.dump());
    auto words = expected_words.find(urls[i]);
    if (words == expected_words.end()) {
      EXPECT_EQ(s["state"], "completed");
      EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "");
      continue;
    }
    EXPECT_EQ(s["state"], "error");
    EXPECT_EQ(s["attempts"], 1) << "a permanent error is not retried";
    EXPECT_EQ(s["error"]["kind"], "permanent");
    const std::string message = s["error"]["message"];
    for (const std::string& w : words->second) {
      EXPECT_NE(message.find(w), std::string::npos) << "\"" << w << "\" not in: " << message;
    }
    EXPECT_TRUE(s["result"].is_null()) << "no numbers from bad data";
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client.Get("/healthz"));
  EXPECT_EQ(health.status, 200);
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop());
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

}  // namespace
}  // namespace batchd::testing
