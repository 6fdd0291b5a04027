// Chunk store read throughput: file:// keys/s over many small files in the page cache (with
// 1 and 2 I/O threads, against a raw open/fstat/read/close loop as the floor), and http://
// GETs/s against nginx on loopback. Prints a table and one JSON line; see bench/README.md.
//
// Wall-clock figures on a shared machine are noisy, so each row is the best of --repeat runs,
// and also shows the process CPU time per key (user + sys, all threads), which load from
// other processes disturbs much less.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "tests/support/nginx_server.h"
#include "tests/support/temp_dir.h"

namespace batchd::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  size_t files = 100'000;
  size_t file_size = 4096;
  std::vector<int> io_threads = {1, 2};
  int repeat = 5;
  int in_flight = 64;
  size_t http_small_objects = 20'000;  // 4 KiB GETs
  size_t http_large_objects = 400;     // 1 MiB GETs
  bool http = true;
};

struct Row {
  std::string name;
  size_t keys = 0;
  size_t bytes = 0;
  double best_seconds = 0;
  double cpu_seconds = 0;  // of the best run
};

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void WriteFile(const fs::path& path, size_t size, uint8_t fill) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(1);
  }
  std::vector<uint8_t> data(size, fill);
  if (::write(fd, data.data(), size) != static_cast<ssize_t>(size)) std::exit(1);
  ::close(fd);
}

// Keys "i.j" like a 2-D zarr v2 array, all in one directory.
std::vector<std::string> MakeArray(const fs::path& dir, size_t count, size_t size) {
  fs::create_directories(dir);
  std::vector<std::string> keys;
  keys.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(std::to_string(i / 1000) + "." + std::to_string(i % 1000));
    WriteFile(dir / keys.back(), size, static_cast<uint8_t>(i));
  }
  return keys;
}

// One GetMany of every key; fails loudly if any key is not read whole.
void ReadAll(pipeline::ChunkStore& store, const std::vector<std::string>& keys, int in_flight,
             size_t expected_size) {
  std::mutex mu;
  std::condition_variable done;
  std::atomic<size_t> remaining{keys.size()};
  std::atomic<size_t> bad{0};
  // Only the last callback takes the lock: a lock per key would measure the bench, not the store.
  store.GetMany(keys, in_flight, nullptr, [&](size_t, Result<std::optional<pipeline::Bytes>> r) {
    if (!r.ok() || !r->has_value() || (*r)->size() != expected_size) ++bad;
    if (remaining.fetch_sub(1) == 1) {
      std::lock_guard lock(mu);
      done.notify_one();
    }
  });
  std::unique_lock lock(mu);
  done.wait(lock, [&] { return remaining.load() == 0; });
  if (bad) {
    std::fprintf(stderr, "%zu of %zu reads failed against %s\n", bad.load(), keys.size(),
                 store.url().c_str());
    std::exit(1);
  }
}

template <typename Fn>
Row Measure(std::string name, size_t keys, size_t size, int repeat, Fn run) {
  Row row{std::move(name), keys, keys * size, 1e300, 0};
  for (int r = 0; r < repeat; ++r) {
    double cpu0 = CpuSeconds();
    auto t0 = Clock::now();
    run();
    double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = CpuSeconds() - cpu0;
    if (wall < row.best_seconds) {
      row.best_seconds = wall;
      row.cpu_seconds = cpu;
    }
  }
  return row;
}

// The floor: what reading each file costs with nothing around it, on one thread.
void RawReadLoop(const fs::path& dir, const std::vector<std::string>& keys) {
  std::vector<uint8_t> buffer;
  int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (const std::string& key : keys) {
    int fd = ::openat(dir_fd, key.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    ::fstat(fd, &st);
    buffer.resize(st.st_size);
    if (::read(fd, buffer.data(), buffer.size()) != st.st_size) std::exit(1);
    ::close(fd);
  }
  ::close(dir_fd);
}

std::vector<Row> FileRows(const Args& args, const fs::path& work) {
  fs::path array = work / "files.zarr";
  std::vector<std::string> keys = MakeArray(array, args.files, args.file_size);
  std::vector<Row> rows;
  RawReadLoop(array, keys);  // warm the page cache and the dentry cache
  rows.push_back(Measure("file raw loop, 1 thread", keys.size(), args.file_size, args.repeat,
                         [&] { RawReadLoop(array, keys); }));
  for (int threads : args.io_threads) {
    pipeline::StoreRegistry registry;
    pipeline::StoreOptions options;
    options.file_roots = {work};
    options.file_io_threads = threads;
    pipeline::RegisterBuiltinStores(registry, options);
    auto store = registry.Open("file://" + array.string());
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      std::exit(1);
    }
    rows.push_back(
        Measure("file store, " + std::to_string(threads) + " I/O thread" + (threads > 1 ? "s" : ""),
                keys.size(), args.file_size, args.repeat,
                [&] { ReadAll(**store, keys, args.in_flight, args.file_size); }));
  }
  return rows;
}

std::vector<Row> HttpRows(const Args& args, const fs::path& work) {
  testing::NginxOptions nginx_options;
  nginx_options.document_root = work / "www";
  auto nginx = testing::NginxServer::Start(nginx_options);
  if (!nginx.ok()) {
    std::fprintf(stderr, "%s\n", nginx.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<Row> rows;
  struct Case {
    const char* array;
    size_t objects;
    size_t size;
  };
  for (Case c : {Case{"small.zarr", args.http_small_objects, 4096},
                 Case{"large.zarr", args.http_large_objects, 1 << 20}}) {
    std::vector<std::string> keys = MakeArray(work / "www" / c.array, c.objects, c.size);
    pipeline::StoreRegistry registry;
    pipeline::StoreOptions options;
    options.http_max_in_flight = args.in_flight;
    auto allowlist =
        pipeline::HttpAllowlist::Create({"127.0.0.1:" + std::to_string((*nginx)->port())});
    if (!allowlist.ok()) std::exit(1);
    options.http_allowlist = *allowlist;
    pipeline::RegisterBuiltinStores(registry, options);
    auto store = registry.Open((*nginx)->Url(std::string("/") + c.array));
    if (!store.ok()) std::exit(1);
    ReadAll(**store, keys, args.in_flight, c.size);  // warm-up: page cache, connections
    rows.push_back(Measure("http store, " + std::to_string(c.size >> 10) + " KiB, " +
                               std::to_string(args.in_flight) + " in flight",
                           keys.size(), c.size, args.repeat,
                           [&] { ReadAll(**store, keys, args.in_flight, c.size); }));
  }
  return rows;
}

std::vector<int> ParseList(const char* text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

int Main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--files")
      args.files = std::stoul(value());
    else if (a == "--file-size")
      args.file_size = std::stoul(value());
    else if (a == "--io-threads")
      args.io_threads = ParseList(value());
    else if (a == "--repeat")
      args.repeat = std::stoi(value());
    else if (a == "--in-flight")
      args.in_flight = std::stoi(value());
    else if (a == "--http-small")
      args.http_small_objects = std::stoul(value());
    else if (a == "--http-large")
      args.http_large_objects = std::stoul(value());
    else if (a == "--no-http")
      args.http = false;
    else if (a == "--quick") {
      args.files = 5000;
      args.http_small_objects = 1000;
      args.http_large_objects = 20;
      args.repeat = 1;
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--files N] [--file-size B] [--io-threads 1,2] "
                   "[--repeat N] [--in-flight N] [--http-small N] [--http-large N] [--no-http] "
                   "[--quick]\n");
      return 2;
    }
  }
  testing::TempDir work;
  std::vector<Row> rows = FileRows(args, work.path());
  if (args.http) {
    std::vector<Row> http = HttpRows(args, work.path());
    rows.insert(rows.end(), http.begin(), http.end());
  }

  std::printf("%-36s %9s %12s %10s %12s\n", "contender", "keys", "keys/s", "MiB/s", "cpu us/key");
  std::string json = "{\"bench\":\"store\",\"rows\":[";
  for (const Row& row : rows) {
    double keys_per_s = row.keys / row.best_seconds;
    double mib_per_s = row.bytes / row.best_seconds / (1 << 20);
    double cpu_us = row.cpu_seconds * 1e6 / row.keys;
    std::printf("%-36s %9zu %12.0f %10.1f %12.2f\n", row.name.c_str(), row.keys, keys_per_s,
                mib_per_s, cpu_us);
    char entry[512];
    std::snprintf(entry, sizeof entry,
                  "%s{\"name\":\"%s\",\"keys\":%zu,\"best_s\":%.4f,\"keys_per_s\":%.0f,"
                  "\"mib_per_s\":%.1f,\"cpu_us_per_key\":%.3f}",
                  &row == &rows.front() ? "" : ",", row.name.c_str(), row.keys, row.best_seconds,
                  keys_per_s, mib_per_s, cpu_us);
    json += entry;
  }
  json += "]}";
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace batchd::bench

int main(int argc, char** argv) { return batchd::bench::Main(argc, argv); }
