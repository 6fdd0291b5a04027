// chunk_decode_limit: "the limit" for bench/chunk_bench.py. How fast does ONE thread decode the
// chunks of an array with our codecs when nothing else is in the way: no files, no threads, no
// queue, no op? The bench multiplies the rate by the number of cores; batchd, which also has to
// read the files, hand chunks between threads and compute the statistics, can only approach it.
//
// It opens the array with the daemon's own format and codec registries (so the codec and its
// config are exactly the ones a session gets), reads the chunk files into memory (untimed:
// every chunk of the grid, in batches of at most --batch-bytes encoded bytes), then decodes each
// batch into one reused chunk-sized buffer (timed), as a decode thread of the daemon does.
// Separately it times the stats kernel (pipeline/ops/stats_kernel.h) on each decoded chunk, which
// says how much of batchd's budget the op takes.
//
// usage: chunk_decode_limit ARRAY_DIR [--batch-bytes N] [--passes N]
// Prints one JSON line; exit 0 on success, 1 if a chunk does not decode or a file cannot be
// read, 2 on bad usage. See bench/README.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/codecs/codec.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/ops/stats_kernel.h"
#include "pipeline/stores/chunk_store.h"

namespace {

using namespace batchd::pipeline;
using batchd::Result;
using batchd::Status;
using Clock = std::chrono::steady_clock;

struct Options {
  std::filesystem::path array;
  // Encoded bytes held in memory at once; a 1 GiB array of compressed chunks fits in one batch.
  int64_t batch_bytes = int64_t{2} << 30;
  int passes = 1;  // decode passes over each batch; the best one counts
};

struct Chunk {
  std::vector<int64_t> coords;
  Bytes encoded;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of this thread: on a machine shared with other work, wall time also counts the time
// the thread waited for a core, CPU time does not.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Usage(const char* message) {
  std::fprintf(stderr, "%s\nusage: chunk_decode_limit ARRAY_DIR [--batch-bytes N] [--passes N]\n",
               message);
  return 2;
}

// The whole file, or nullopt if it does not exist (a missing chunk: nothing to decode).
std::optional<Bytes> ReadWholeFile(const std::filesystem::path& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno != ENOENT) error = "cannot open " + path.string();
    return std::nullopt;
  }
  struct stat st {};
  Bytes data;
  if (::fstat(fd, &st) == 0) {
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n <= 0) {
        error = "cannot read " + path.string();
        break;
      }
      got += static_cast<size_t>(n);
    }
  } else {
    error = "cannot stat " + path.string();
  }
  ::close(fd);
  return data;
}

int Run(const Options& options) {
  CodecRegistry codecs;
  RegisterBuiltinCodecs(codecs);
  FormatRegistry formats;
  RegisterBuiltinFormats(formats, codecs);
  StoreRegistry stores;
  const std::filesystem::path dir = std::filesystem::absolute(options.array).lexically_normal();
  RegisterBuiltinStores(stores, {.file_roots = {dir.parent_path()}, .file_io_threads = 1});
  const std::string url = "file://" + dir.string();
  Result<std::shared_ptr<ChunkStore>> store = stores.Open(url);
  if (!store.ok()) return Usage(store.status().ToString().c_str());
  Result<ArrayMetadata> array = formats.Open(**store, {{"url", url}});
  if (!array.ok()) return Usage(array.status().ToString().c_str());
  Result<std::unique_ptr<const Codec>> codec =
      codecs.Create(array->codec, {.element_size = static_cast<size_t>(array->dtype.size)});
  if (!codec.ok()) return Usage(codec.status().ToString().c_str());

  const ChunkRegion grid = ChunkRegion::All(*array);
  const size_t chunk_bytes = array->ChunkBytes();
  Bytes decoded(chunk_bytes);  // one buffer, reused, like a decode thread's
  std::vector<int64_t> extent(static_cast<size_t>(array->rank()));
  int64_t chunks = 0, missing = 0, encoded_bytes = 0;
  double read_seconds = 0, decode_seconds = 0, stats_seconds = 0;
  std::vector<double> pass_seconds(static_cast<size_t>(options.passes), 0.0);
  std::vector<double> pass_cpu_seconds(static_cast<size_t>(options.passes), 0.0);
  ChunkStats checksum_of_work;  // keeps the kernel from being optimised away, and is printed
  std::string error;

  std::vector<Chunk> batch;
  int64_t batch_encoded = 0;
  auto decode_batch = [&]() -> bool {
    for (int pass = 0; pass < options.passes; ++pass) {
      const auto t0 = Clock::now();
      const double cpu0 = ThreadCpuSeconds();
      for (const Chunk& c : batch) {
        if (Status s = (*codec)->DecodeInto(c.encoded, decoded); !s.ok()) {
          error = "chunk " + array->keys.Key(c.coords) + ": " + s.ToString();
          return false;
        }
      }
      pass_seconds[static_cast<size_t>(pass)] += Seconds(Clock::now() - t0);
      pass_cpu_seconds[static_cast<size_t>(pass)] += ThreadCpuSeconds() - cpu0;
    }
    // The op's kernel, timed chunk by chunk on the freshly decoded bytes (as batchd runs it).
    for (const Chunk& c : batch) {
      if (Status s = (*codec)->DecodeInto(c.encoded, decoded); !s.ok()) return false;
      ValidExtent(*array, c.coords, extent);
      const auto t0 = Clock::now();
      const ChunkStats st =
          ComputeChunkStats(decoded.data(), array->dtype, array->chunk_shape, extent);
      stats_seconds += Seconds(Clock::now() - t0);
      checksum_of_work.count += st.count;
      checksum_of_work.sum += st.sum;
    }
    batch.clear();
    batch_encoded = 0;
    return true;
  };

  std::vector<int64_t> coords(static_cast<size_t>(array->rank()));
  for (int64_t i = 0; i < grid.size(); ++i) {
    grid.CoordsOf(i, coords);
    const auto t0 = Clock::now();
    std::optional<Bytes> bytes = ReadWholeFile(dir / array->keys.Key(coords), error);
    read_seconds += Seconds(Clock::now() - t0);
    if (!error.empty()) break;
    if (!bytes) {
      ++missing;
      continue;
    }
    ++chunks;
    encoded_bytes += static_cast<int64_t>(bytes->size());
    batch_encoded += static_cast<int64_t>(bytes->size());
    batch.push_back({coords, std::move(*bytes)});
    if (batch_encoded >= options.batch_bytes && !decode_batch()) break;
  }
  if (error.empty()) decode_batch();
  if (!error.empty()) {
    std::fprintf(stderr, "chunk_decode_limit: %s\n", error.c_str());
    return 1;
  }
  decode_seconds = *std::min_element(pass_seconds.begin(), pass_seconds.end());
  const double decode_cpu_seconds =
      *std::min_element(pass_cpu_seconds.begin(), pass_cpu_seconds.end());
  const double decoded_bytes = static_cast<double>(chunks) * static_cast<double>(chunk_bytes);
  nlohmann::json out = {
      {"anchor", "chunk_decode_limit"},
      {"array", dir.string()},
      {"codec", (*codec)->ToJson()},
      {"dtype", array->dtype.ToNumpy()},
      {"chunk_bytes", chunk_bytes},
      {"chunks", chunks},
      {"missing_chunks", missing},
      {"encoded_bytes", encoded_bytes},
      {"decoded_bytes", decoded_bytes},
      {"threads", 1},
      {"passes", options.passes},
      {"decode_seconds", decode_seconds},
      {"decode_seconds_per_pass", pass_seconds},
      {"decode_bytes_per_s", decode_seconds > 0 ? decoded_bytes / decode_seconds : 0.0},
      {"decode_chunks_per_s", decode_seconds > 0 ? chunks / decode_seconds : 0.0},
      {"decode_cpu_seconds", decode_cpu_seconds},
      {"decode_bytes_per_cpu_s", decode_cpu_seconds > 0 ? decoded_bytes / decode_cpu_seconds : 0.0},
      {"stats_seconds", stats_seconds},
      {"stats_bytes_per_s", stats_seconds > 0 ? decoded_bytes / stats_seconds : 0.0},
      {"stats_elements", checksum_of_work.count},
      {"stats_sum", checksum_of_work.sum},
      {"read_seconds_untimed", read_seconds}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--batch-bytes" && has_value) {
      options.batch_bytes = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else if (arg == "--passes" && has_value) {
      options.passes = std::max(1, std::atoi(argv[++i]));
    } else if (!arg.empty() && arg[0] != '-' && options.array.empty()) {
      options.array = arg;
    } else {
      return Usage(("unknown argument " + arg).c_str());
    }
  }
  if (options.array.empty()) return Usage("ARRAY_DIR is required");
  return Run(options);
}
