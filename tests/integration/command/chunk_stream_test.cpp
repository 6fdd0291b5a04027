// The `command` op's chunk stream (docs/command.md, "Chunk streaming") through a real daemon
// with real programs: Python programs on clients/python/batchd_worker.py over arrays written
// by zarr-python (tests/e2e/stream_arrays.py, whose numpy oracle they are checked against),
// a sink read back by zarr-python, kill -9 of the daemon mid-stream, and programs that break
// the protocol.
//
// Waits are hang guards (minutes), never bounds on how fast anything is.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kGuard = seconds(240);

std::filesystem::path ClientDir() { return E2eScriptsDir() / ".." / ".." / "clients" / "python"; }

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(p));
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// A stream job running `argv` (after /usr/bin/python3) over `source_url`.
json StreamJob(std::vector<std::string> argv, const std::string& source_url) {
  json full = {"/usr/bin/python3"};
  for (const std::string& a : argv) full.push_back(a);
  return {{"op", "command"},
          {"argv", full},
          {"env", {{"PYTHONPATH", ClientDir().string()}}},
          {"source", {{"url", source_url}}}};
}

json InlineJob(const std::string& code, const std::string& source_url) {
  return StreamJob({"-c", code}, source_url);
}

class ChunkStreamTest : public DaemonTest {
 protected:
  std::vector<std::string> Args() const {
    return {"--allow-command",
            "/usr/bin/python3",
            "--file-root",
            data_dir().string(),
            "--retry-backoff-ms",
            "0",
            "--kill-grace-ms",
            "200",
            "--checkpoint-interval-ms",
            "20",
            "--slots",
            "4"};
  }
  void Start() { ASSERT_NO_FATAL_FAILURE(StartDaemon(Args())); }

  // zarr-python's arrays under data_dir()/arrays and their oracle.
  json MakeArrays() {
    const std::filesystem::path dir = data_dir() / "arrays";
    std::filesystem::create_directories(dir);
    Result<json> oracle = RunJsonCommand(
        {kSystemPython, (E2eScriptsDir() / "stream_arrays.py").string(), "make", dir.string()});
    EXPECT_TRUE(oracle.ok()) << oracle.status().ToString();
    return oracle.ok() ? *oracle : json();
  }
  std::string ArrayUrl(const std::string& name) {
    return FileUrl(data_dir() / "arrays" / (name + ".zarr"));
  }
  std::filesystem::path Scratch() {
    std::filesystem::path p = data_dir() / "scratch";
    std::filesystem::create_directories(p);
    return p;
  }

  json RunOne(const json& job) {
    Result<json> session =
        RunSingleSessionBatch(client(), {{"template", job}, {"max_attempts", 1}}, kGuard);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    return session.ok() ? *session : json();
  }

  // The session failed permanently with a message holding every piece of `needles`.
  void ExpectFailure(const json& session, const std::vector<std::string>& needles) {
    ASSERT_EQ(session["state"], "error") << session.dump();
    EXPECT_EQ(session["error"]["kind"], "permanent") << session.dump();
    const std::string message = session["error"]["message"].get<std::string>();
    for (const std::string& n : needles) {
      EXPECT_NE(message.find(n), std::string::npos) << "no \"" << n << "\" in: " << message;
    }
  }
};

TEST_F(ChunkStreamTest, PerChunkSumsOverThreeCodecsWithEdgeAndMissingChunksEqualNumpys) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const json oracle = MakeArrays();
  ASSERT_TRUE(oracle.is_object());
  const std::vector<std::string> names = {"zstd", "lz4", "blosc"};
  json urls = json::array(), logs = json::array();
  for (const std::string& n : names) {
    urls.push_back(ArrayUrl(n));
    logs.push_back((Scratch() / (n + ".log")).string());
  }
  json job = StreamJob({(ClientDir() / "examples" / "chunk_sums.py").string()}, ArrayUrl("zstd"));
  job["env"]["CHUNK_SUMS_LOG"] = "";
  job["reduce"] = {{"min", "min"}, {"max", "max"}, {"chunks", "count"}};
  const json batch = {{"template", job},
                      {"data",
                       {{{{"field", "/source/url"}, {"items", urls}},
                         {{"field", "/env/CHUNK_SUMS_LOG"}, {"items", logs}}}}}};
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kGuard));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_EQ(sessions.size(), 3u);
  double total_sum = 0;
  int64_t total_chunks = 0;
  for (int64_t sid : sessions) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    ASSERT_EQ(s["state"], "completed") << s.dump();
    const std::string name = names.at(s["index"][0].get<size_t>());
    const json& want = oracle[name];
    const json& r = s["result"];
    EXPECT_EQ(r["values"]["sum"], want["sum"]) << name << ": " << r.dump();
    EXPECT_EQ(r["values"]["min"], want["min"]) << name << ": " << r.dump();
    EXPECT_EQ(r["values"]["max"], want["max"]) << name << ": " << r.dump();
    EXPECT_EQ(r["values"]["chunks"], want["count"]) << name << ": " << r.dump();
    EXPECT_EQ(r["chunks"], want["count"]) << name << ": " << r.dump();
    // Every chunk once, with numpy's sum over its valid extent (fill values where missing).
    std::map<std::string, json> seen;
    for (const std::string& line : Lines(Scratch() / (name + ".log"))) {
      const json l = json::parse(line);
      EXPECT_FALSE(seen.count(l["key"])) << name << ": chunk " << l["key"] << " sent twice";
      seen[l["key"]] = l;
    }
    ASSERT_EQ(seen.size(), want["chunks"].size()) << name;
    for (const auto& [key, sum] : want["chunks"].items()) {
      ASSERT_TRUE(seen.count(key)) << name << ": chunk " << key << " never sent";
      EXPECT_EQ(seen[key]["sum"], sum) << name << " chunk " << key;
      const bool missing =
          std::find(want["missing"].begin(), want["missing"].end(), key) != want["missing"].end();
      EXPECT_EQ(seen[key]["missing"], missing) << name << " chunk " << key;
    }
    total_sum += want["sum"].get<double>();
    total_chunks += want["count"].get<int64_t>();
  }
  // The batch folds its sessions the same way.
  const json& batch_result = done["result"];
  EXPECT_EQ(batch_result["values"]["sum"], total_sum) << batch_result.dump();
  EXPECT_EQ(batch_result["values"]["chunks"], total_chunks) << batch_result.dump();
  EXPECT_EQ(batch_result["sessions"], 3) << batch_result.dump();
  EXPECT_EQ(batch_result["values"]["min"], -1000) << batch_result.dump();
}

TEST_F(ChunkStreamTest, AMapProgramsSinkReadsBackInZarrPythonAsNumpysTransform) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const json oracle = MakeArrays();
  ASSERT_TRUE(oracle.is_object());
  const std::filesystem::path sink = Scratch() / "anomaly.zarr";
  json job = StreamJob({(ClientDir() / "examples" / "anomaly_map.py").string()}, ArrayUrl("zstd"));
  job["sink"] = {{"url", FileUrl(sink)}, {"dtype", "<f4"}, {"codec", {{"id", "zstd"}}}};
  const json s = RunOne(job);
  ASSERT_EQ(s["state"], "completed") << s.dump();
  EXPECT_EQ(s["result"]["chunks_written"], oracle["zstd"]["count"]) << s.dump();
  EXPECT_EQ(s["result"]["sink"], FileUrl(sink)) << s.dump();
  EXPECT_TRUE(s["result"]["values"].contains("outliers")) << s.dump();
  ASSERT_OK_AND_ASSIGN(
      json compared,
      RunJsonCommand({kSystemPython, (E2eScriptsDir() / "stream_arrays.py").string(), "check-map",
                      (data_dir() / "arrays" / "zstd.zarr").string(), sink.string()}));
  EXPECT_EQ(compared["equal"], true) << compared.dump();
  EXPECT_EQ(compared["chunks"], json({8, 16})) << compared.dump();
}

// The grid of the kill -9 test's array: 30 x 20 chunks of 4 x 4 int32 (tests/e2e has the
// writer's spelling; here a raw zarr-python array of 120 x 80).
constexpr int kKillRows = 30, kKillCols = 20;

TEST_F(ChunkStreamTest, KillNineMidStreamFiveTimesEndsAsACleanRunAndResendsNoCheckpointedChunk) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::filesystem::path array = data_dir() / "arrays" / "kill.zarr";
  std::filesystem::create_directories(array.parent_path());
  ASSERT_OK_AND_ASSIGN(
      json written,
      RunJsonCommand({kSystemPython, "-c",
                      "import json, sys, numpy as np, zarr\n"
                      "z = zarr.open(sys.argv[1], mode='w', shape=(120, 80), chunks=(4, 4), "
                      "dtype='<i4')\n"
                      "z[...] = np.arange(120 * 80, dtype='<i4').reshape(120, 80) % 977\n"
                      "print(json.dumps({'sum': int(z[...].astype('int64').sum())}))\n",
                      array.string()}));
  // Logs "ATTEMPT KEY" for every chunk it receives, before it answers, a little slowly so the
  // kills land mid-stream.
  const std::string program =
      "import os, sys, time\n"
      "import batchd_worker\n"
      "d, sid, attempt = sys.argv[1], os.environ['BATCHD_SESSION_ID'], "
      "os.environ['BATCHD_ATTEMPT']\n"
      "log = open(os.path.join(d, 'received-' + sid), 'a')\n"
      "w = batchd_worker.Worker()\n"
      "for key, chunk in w:\n"
      "    log.write(attempt + ' ' + key + '\\n'); log.flush()\n"
      "    time.sleep(0.004)\n"
      "    w.send_result(key, {'sum': int(chunk.astype('int64').sum()), 'n': 1})\n";
  auto batch_for = [&](const std::filesystem::path& logs) {
    std::filesystem::create_directories(logs);
    json job = InlineJob(program, FileUrl(array));
    job["argv"].push_back(logs.string());
    job["region"] = {{0, kKillRows / 2}, {0, kKillCols}};
    return json{{"template", job},
                {"max_attempts", 10},
                {"data",
                 {{{{"field", "/region/0"},
                    {"items", {{0, kKillRows / 2}, {kKillRows / 2, kKillRows}}}}}}}};
  };
  auto results = [&](const std::string& id) {
    std::map<int64_t, json> out;
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), id);
    EXPECT_TRUE(ids.ok());
    for (int64_t sid : ids.ok() ? *ids : std::vector<int64_t>{}) {
      Result<json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string(sid));
      if (s.ok()) out[(*s)["index"][0].get<int64_t>()] = (*s)["result"];
    }
    return out;
  };

  // The clean run.
  ASSERT_OK_AND_ASSIGN(const std::string clean_id,
                       SubmitBatch(client(), batch_for(Scratch() / "clean")));
  ASSERT_OK_AND_ASSIGN(json clean, WaitForBatchState(client(), clean_id, "completed", kGuard));
  EXPECT_EQ(clean["result"]["values"]["sum"], written["sum"]) << clean.dump();
  EXPECT_EQ(clean["result"]["chunks"], kKillRows * kKillCols) << clean.dump();

  const std::filesystem::path logs = Scratch() / "killed";
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), batch_for(logs)));
  auto received_lines = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(logs)) n += Lines(e.path()).size();
    return n;
  };
  // Per kill: the chunk keys each session's checkpoint held right after it, and the attempt
  // that was running.
  struct Kill {
    std::map<int64_t, std::set<std::string>> checkpointed;
  };
  std::vector<Kill> kills;
  for (int k = 0; k < 5; ++k) {
    const size_t before = received_lines();
    const auto give_up = std::chrono::steady_clock::now() + kGuard;
    while (received_lines() < before + 40 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_GE(received_lines(), before + 40) << "the stream did not move after restart " << k;
    ASSERT_OK_AND_ASSIGN(json b, GetJson(client(), "/api/v1/batches/" + id));
    ASSERT_NE(b["state"], "completed") << "the batch ended before kill " << k + 1;
    ASSERT_EQ(daemon().Kill().signal, SIGKILL);
    Kill kill;
    ASSERT_OK_AND_ASSIGN(auto checkpoints, ReadCheckpoints(daemon().db_path()));
    for (const auto& [session, text] : checkpoints) {
      const json cp = json::parse(text);
      for (const json& run : cp["done"]) {
        for (int64_t n = run[0].get<int64_t>(); n < run[1].get<int64_t>(); ++n) {
          kill.checkpointed[session].insert(std::to_string(n / kKillCols) + "." +
                                            std::to_string(n % kKillCols));
        }
      }
    }
    kills.push_back(std::move(kill));
    ASSERT_NO_FATAL_FAILURE(StartDaemon(Args()));
  }
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kGuard));

  // The same results as the clean run, per session and for the batch.
  const std::map<int64_t, json> clean_results = results(clean_id);
  const std::map<int64_t, json> killed_results = results(id);
  EXPECT_EQ(killed_results, clean_results);
  EXPECT_EQ(done["result"], clean["result"]);

  // Sessions of the two regions: chunk numbers are region-relative, keys are the array's.
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  std::map<int64_t, int64_t> row_offset;  // session -> first chunk row of its region
  for (int64_t sid : sessions) {
    ASSERT_OK_AND_ASSIGN(json s, GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    row_offset[sid] = s["index"][0].get<int64_t>() * (kKillRows / 2);
  }
  size_t resumed_receipts = 0;
  for (int64_t sid : sessions) {
    std::map<int, std::vector<std::string>> by_attempt;
    std::set<std::string> all;
    for (const std::string& line : Lines(logs / ("received-" + std::to_string(sid)))) {
      const size_t space = line.find(' ');
      by_attempt[std::stoi(line.substr(0, space))].push_back(line.substr(space + 1));
      all.insert(line.substr(space + 1));
    }
    EXPECT_EQ(all.size(), static_cast<size_t>(kKillRows / 2 * kKillCols)) << "session " << sid;
    // Kill i ran attempt i + 1 at most; what its checkpoint held must never reach a later one.
    for (size_t i = 0; i < kills.size(); ++i) {
      std::set<std::string> done_keys;
      for (const std::string& k : kills[i].checkpointed[sid]) {
        const size_t dot = k.find('.');
        done_keys.insert(std::to_string(std::stoll(k.substr(0, dot)) + row_offset[sid]) + "." +
                         k.substr(dot + 1));
      }
      for (const auto& [attempt, keys] : by_attempt) {
        if (attempt <= static_cast<int>(i) + 1) continue;
        for (const std::string& key : keys) {
          EXPECT_FALSE(done_keys.count(key))
              << "session " << sid << " attempt " << attempt << " got chunk " << key
              << " again, which the checkpoint after kill " << i + 1 << " held";
          ++resumed_receipts;
        }
      }
    }
  }
  EXPECT_GT(resumed_receipts, 0u) << "no session ran again after a kill";
}

TEST_F(ChunkStreamTest, AProgramExitingMidStreamFailsTheSessionNamingTheChunkAndItsExit) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  const json s =
      RunOne(InlineJob("import sys, batchd_worker\n"
                       "w = batchd_worker.Worker()\n"
                       "for i, (key, chunk) in enumerate(w):\n"
                       "    if i == 3:\n"
                       "        sys.stderr.write('giving up here\\n'); sys.exit(3)\n"
                       "    w.send_result(key, {'n': 1})\n",
                       ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(s, {"chunk ", "exited with code 3", "giving up here"}));
}

// A stream past its timeout_s ends as a plain command does: error kind "timeout", not retried,
// the program gone.
TEST_F(ChunkStreamTest, AStreamPastItsTimeoutEndsInErrorKindTimeout) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  json job = InlineJob(
      "import time, batchd_worker\n"
      "w = batchd_worker.Worker()\n"
      "for key, chunk in w:\n"
      "    time.sleep(3600)\n",
      ArrayUrl("zstd"));
  job["timeout_s"] = 1;
  Result<json> s =
      RunSingleSessionBatch(client(), {{"template", job}, {"max_attempts", 3}}, kGuard);
  ASSERT_OK(s.status());
  ASSERT_EQ((*s)["state"], "error") << s->dump();
  EXPECT_EQ((*s)["error"]["kind"], "timeout") << s->dump();
  EXPECT_EQ((*s)["attempts"], 1) << s->dump();
  EXPECT_NE((*s)["error"]["message"].get<std::string>().find("timeout_s"), std::string::npos)
      << s->dump();
}

TEST_F(ChunkStreamTest, AGarbageAnswerFailsTheSessionNamingTheChunk) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  const json s = RunOne(
      InlineJob("import sys, time, batchd_worker\n"
                "w = batchd_worker.Worker()\n"
                "for key, chunk in w:\n"
                "    sys.stdout.write('hello world\\n'); sys.stdout.flush(); time.sleep(600)\n",
                ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(s, {"chunk 0.0", "not a JSON object line", "hello world"}));
  // Answers for another chunk than the one waiting, and results that do not fold.
  const json wrong_key =
      RunOne(InlineJob("import json, sys, batchd_worker\n"
                       "w = batchd_worker.Worker()\n"
                       "for key, chunk in w:\n"
                       "    print(json.dumps({'key': 'nope'}), flush=True)\n"
                       "    break\n"
                       "sys.stdin.read()\n",
                       ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(wrong_key, {"chunk 0.0", "\"nope\""}));
  const json not_number =
      RunOne(InlineJob("import batchd_worker\n"
                       "w = batchd_worker.Worker()\n"
                       "for key, chunk in w:\n"
                       "    w.send_result(key, {'sum': 'many'})\n",
                       ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(not_number, {"chunk 0.0", "\"sum\"", "number"}));
  const json too_long =
      RunOne(InlineJob("import sys, batchd_worker\n"
                       "w = batchd_worker.Worker()\n"
                       "for key, chunk in w:\n"
                       "    sys.stdout.write('x' * 70000); sys.stdout.flush(); sys.stdin.read()\n",
                       ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(too_long, {"chunk 0.0", "longer than 65536"}));
}

TEST_F(ChunkStreamTest, AWrongSizedOutputChunkFailsTheSessionAndWritesNoArrayDocument) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  const std::filesystem::path sink = Scratch() / "short.zarr";
  // Chunk 0.0 is 8 x 16 int32 (512 bytes): 508 come with "bytes": 508.
  json job = InlineJob(
      "import json, sys, time, batchd_worker\n"
      "w = batchd_worker.Worker()\n"
      "for key, chunk in w:\n"
      "    out = chunk.astype('<i4').tobytes()[:-4]\n"
      "    sys.stdout.buffer.write((json.dumps({'key': key, 'bytes': len(out)}) + "
      "'\\n').encode())\n"
      "    sys.stdout.buffer.write(out); sys.stdout.flush(); time.sleep(600)\n",
      ArrayUrl("zstd"));
  job["sink"] = {{"url", FileUrl(sink)}};
  const json s = RunOne(job);
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(s, {"chunk 0.0", "\"bytes\": 508", "exactly 512"}));
  EXPECT_FALSE(std::filesystem::exists(sink / ".zarray"));
  // Without a sink, an output chunk is refused too.
  const json no_sink =
      RunOne(InlineJob("import json, sys, batchd_worker\n"
                       "w = batchd_worker.Worker()\n"
                       "for key, chunk in w:\n"
                       "    print(json.dumps({'key': key, 'bytes': 4}), flush=True); break\n"
                       "sys.stdin.read()\n",
                       ArrayUrl("zstd")));
  ASSERT_NO_FATAL_FAILURE(ExpectFailure(no_sink, {"chunk 0.0", "no \"sink\""}));
}

TEST_F(ChunkStreamTest, CancelMidStreamEndsCanceledAndTheProgramIsGone) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  const std::filesystem::path pid_file = Scratch() / "pid";
  // Answers the first chunk, then hangs without reading on.
  json job = InlineJob(
      "import os, sys, time, batchd_worker\n"
      "w = batchd_worker.Worker()\n"
      "for key, chunk in w:\n"
      "    w.send_result(key, {'n': 1})\n"
      "    open(sys.argv[1], 'w').write('%d\\n' % os.getpid())\n"
      "    time.sleep(1000)\n",
      ArrayUrl("zstd"));
  job["argv"].push_back(pid_file.string());
  ASSERT_OK_AND_ASSIGN(const std::string id, SubmitBatch(client(), {{"template", job}}));
  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (ReadFile(pid_file).find('\n') == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  const std::string pid_text = ReadFile(pid_file);
  ASSERT_NE(pid_text.find('\n'), std::string::npos) << "the program did not start";
  const pid_t program = std::stoi(pid_text);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(
      json answer, PostJson(client(), "/api/v1/sessions/" + std::to_string(sessions[0]) + "/cancel",
                            json::object(), 202));
  ASSERT_OK_AND_ASSIGN(json s, WaitForSessionState(client(), sessions[0], "canceled", kGuard));
  EXPECT_EQ(s["error"]["kind"], "canceled") << s.dump();
  const auto gone_by = std::chrono::steady_clock::now() + kGuard;
  while (std::filesystem::exists("/proc/" + std::to_string(program) + "/stat") &&
         ReadFile("/proc/" + std::to_string(program) + "/stat").find(") Z") == std::string::npos &&
         std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  const std::string stat = ReadFile("/proc/" + std::to_string(program) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z") != std::string::npos)
      << "program " << program << " survived the cancel: " << stat;
}

TEST_F(ChunkStreamTest, BatchdWritesNoMoreThanTheByteBudgetAheadOfTheProgram) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(MakeArrays().is_object());
  // 20 chunks of 512 bytes; a budget of 4096 holds 8, one of them the chunk the program has.
  // Reading stdin unbuffered (no read-ahead), the program waits on its first chunk and then
  // counts what waits in the pipe: the other chunks reserved, never all 19 left.
  json job = InlineJob(
      "import fcntl, struct, sys, termios, time, batchd_worker\n"
      "w = batchd_worker.Worker(stdin=open(0, 'rb', buffering=0))\n"
      "first = True\n"
      "for key, chunk in w:\n"
      "    r = {'n': 1}\n"
      "    if first:\n"
      "        time.sleep(2)\n"
      "        got = fcntl.ioctl(0, termios.FIONREAD, b'\\0\\0\\0\\0')\n"
      "        r['pending'] = struct.unpack('i', got)[0]\n"
      "        first = False\n"
      "    w.send_result(key, r)\n",
      ArrayUrl("zstd"));
  job["limits"] = {{"bytes_in_flight", 4096}};
  job["reduce"] = {{"pending", "max"}};
  const json s = RunOne(job);
  ASSERT_EQ(s["state"], "completed") << s.dump();
  EXPECT_EQ(s["result"]["values"]["n"], 20) << s.dump();
  // Each chunk on the wire: its 512 bytes and a header line of about 100.
  EXPECT_LE(s["result"]["values"]["pending"].get<int64_t>(), 7 * (512 + 128)) << s.dump();
}

TEST_F(ChunkStreamTest, BadStreamMembersAreRefusedAtSubmitNamingThem) {
  ASSERT_NO_FATAL_FAILURE(Start());
  json bad_reduce = InlineJob("1", FileUrl(data_dir() / "a.zarr"));
  bad_reduce["reduce"] = {{"sum", "median"}};
  ASSERT_OK_AND_ASSIGN(json refused,
                       PostJson(client(), "/api/v1/batches", {{"template", bad_reduce}}, 422));
  EXPECT_EQ(refused["error"]["path"], "/template/reduce") << refused.dump();
  json outside = InlineJob("1", "file:///etc/outside.zarr");
  ASSERT_OK_AND_ASSIGN(json refused_url,
                       PostJson(client(), "/api/v1/batches", {{"template", outside}}, 422));
  EXPECT_EQ(refused_url["error"]["path"], "/template/source/url") << refused_url.dump();
}

}  // namespace
}  // namespace batchd::testing
