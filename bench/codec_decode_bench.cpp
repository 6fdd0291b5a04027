// codec_decode_bench: single-thread decode throughput of the chunk codecs (pipeline/codecs/codec.h)
// and the digests (pipeline/ops/digest.h) on a realistic chunk, with numcodecs decoding the same
// bytes side by side as the anchor. See bench/README.md.
//
// The chunk is 512 x 512 little-endian float32 (1 MiB), the field
// ../shared/anchors/make_zarr.py writes: 280 + 15 sin((i + j) / 97) + N(0, 0.5), rounded to 2
// decimals. Throughput is decoded bytes per second of wall time: each repeat decodes the chunk
// into the same buffer for about --seconds, and the table shows the best repeat (the least
// disturbed by other processes) and the median.
//
// usage: codec_decode_bench [--quick] [--repeat N] [--seconds S] [--numcodecs PYTHON]
//        codec_decode_bench --only NAME --iterations N   (fixed work, for perf stat)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/codecs/codec.h"
#include "pipeline/codecs/crc32c_paths.h"
#include "pipeline/ops/digest.h"

namespace {

using batchd::pipeline::Bytes;
using batchd::pipeline::ByteView;
using batchd::pipeline::Codec;
using batchd::pipeline::CodecRegistry;
using Clock = std::chrono::steady_clock;

constexpr size_t kSide = 512;
constexpr size_t kChunkBytes = kSide * kSide * 4;

struct Contender {
  std::string name;
  nlohmann::json config;  // numcodecs' spelling, also what the anchor builds
};

const std::vector<Contender>& Contenders() {
  static const std::vector<Contender> contenders = {
      {"raw", {{"id", "raw"}}},
      {"lz4", {{"id", "lz4"}, {"acceleration", 1}}},
      {"zstd-1", {{"id", "zstd"}, {"level", 1}}},
      {"zstd-3", {{"id", "zstd"}, {"level", 3}}},
      {"blosc-lz4-shuffle",
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}}},
      {"blosc-lz4-noshuffle",
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 0}, {"blocksize", 0}}},
      {"blosc-zstd-shuffle",
       {{"id", "blosc"}, {"cname", "zstd"}, {"clevel", 3}, {"shuffle", 1}, {"blocksize", 0}}},
  };
  return contenders;
}

Bytes FieldChunk() {
  std::mt19937_64 random(0);
  std::normal_distribution<double> noise(0.0, 0.5);
  Bytes chunk(kChunkBytes);
  for (size_t i = 0; i < kSide; ++i) {
    for (size_t j = 0; j < kSide; ++j) {
      const double value =
          280.0 + 15.0 * std::sin(static_cast<double>(i + j) / 97.0) + noise(random);
      const float rounded = static_cast<float>(std::round(value * 100.0) / 100.0);
      std::memcpy(chunk.data() + 4 * (i * kSide + j), &rounded, 4);
    }
  }
  return chunk;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Rates {
  double best = 0;
  double median = 0;
};

// Runs `work` (which processes `bytes` bytes) in repeats of about `seconds` each; bytes/s.
template <typename Work>
Rates Measure(Work&& work, size_t bytes, int repeats, double seconds) {
  work();  // warm-up: thread-local contexts, page faults of the output
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    size_t iterations = 0;
    const Clock::time_point start = Clock::now();
    Clock::time_point now;
    do {
      for (int k = 0; k < 8; ++k) work();
      iterations += 8;
      now = Clock::now();
    } while (Seconds(now - start) < seconds);
    rates.push_back(static_cast<double>(bytes) * iterations / Seconds(now - start));
  }
  std::sort(rates.begin(), rates.end());
  return {rates.back(), rates[rates.size() / 2]};
}

// Times numcodecs decoding the same bytes (into a preallocated `out`, as zarr decodes whole
// chunks): python3 anchor.py CHUNK CASE_JSON REPEATS SECONDS prints
// {"numcodecs_version", "decode_best": B/s, "decode_median": B/s}.
constexpr const char* kAnchorScript = R"PY(
import json, sys, time
import numpy as np
import numcodecs

chunk_path, case_path, repeats, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
chunk = np.fromfile(chunk_path, dtype="<f4")
out = np.empty_like(chunk)
codec = numcodecs.get_codec(dict(json.load(open(case_path))))
encoded = codec.encode(chunk)
codec.decode(encoded, out=out)
assert out.tobytes() == chunk.tobytes()
codec.decode(encoded, out=out)
rates = []
for _ in range(repeats):
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(8):
            codec.decode(encoded, out=out)
        n += 8
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    rates.append(chunk.nbytes * n / elapsed)
rates.sort()
print(json.dumps({"numcodecs_version": numcodecs.__version__, "decode_best": rates[-1],
                  "decode_median": rates[len(rates) // 2]}))
)PY";

// numcodecs in a Python process per contender, run right after our own measurement of it so
// that both see about the same load from other processes.
class NumcodecsAnchor {
 public:
  NumcodecsAnchor(std::string python, ByteView chunk) : python_(std::move(python)) {
    char pattern[] = "/tmp/codec-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    std::ofstream(dir_ / "chunk.raw", std::ios::binary)
        .write(reinterpret_cast<const char*>(chunk.data()),
               static_cast<std::streamsize>(chunk.size()));
    std::ofstream(dir_ / "anchor.py") << kAnchorScript;
  }
  ~NumcodecsAnchor() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The script's JSON, or null (after a message on stderr) if it failed.
  nlohmann::json Measure(const nlohmann::json& config, int repeats, double seconds) const {
    if (dir_.empty()) return nullptr;
    std::ofstream(dir_ / "case.json") << config.dump();
    const std::string command =
        python_ + " " + (dir_ / "anchor.py").string() + " " + (dir_ / "chunk.raw").string() + " " +
        (dir_ / "case.json").string() + " " + std::to_string(repeats) + " " +
        std::to_string(seconds) + " > " + (dir_ / "anchor.json").string();
    nlohmann::json result = nullptr;
    if (std::system(command.c_str()) == 0) {
      std::ifstream in(dir_ / "anchor.json");
      result = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (result.is_discarded()) result = nullptr;
    }
    if (result.is_null()) {
      std::fprintf(stderr, "codec_decode_bench: the numcodecs anchor failed on %s\n",
                   config.dump().c_str());
    }
    return result;
  }

 private:
  const std::string python_;
  std::filesystem::path dir_;  // empty if it could not be created
};

int Usage() {
  std::fprintf(stderr,
               "usage: codec_decode_bench [--quick] [--repeat N] [--seconds S] "
               "[--numcodecs PYTHON]\n"
               "       codec_decode_bench --only NAME --iterations N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  double seconds = 0.3;
  std::string python, only;
  long iterations = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--quick") {
      repeats = 1;
      seconds = 0.05;
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(next()));
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(next());
    } else if (arg == "--numcodecs" && i + 1 < argc) {
      python = next();
    } else if (arg == "--only" && i + 1 < argc) {
      only = next();
    } else if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::atol(next());
    } else {
      return Usage();
    }
  }

  CodecRegistry registry;
  RegisterBuiltinCodecs(registry);
  const Bytes chunk = FieldChunk();
  Bytes decoded(chunk.size());

  if (!only.empty()) {  // fixed work for `perf stat -e instructions`
    for (const Contender& c : Contenders()) {
      if (c.name != only) continue;
      auto codec = registry.Create(c.config, {.element_size = 4});
      Bytes encoded;
      if (!codec.ok() || !(*codec)->Encode(chunk, encoded).ok()) return 1;
      // One checked decode is part of the fixed cost that `--iterations 0` measures.
      if (!(*codec)->DecodeInto(encoded, decoded).ok() || decoded != chunk) return 1;
      for (long k = 0; k < iterations; ++k) {
        if (!(*codec)->DecodeInto(encoded, decoded).ok()) return 1;
      }
      return 0;
    }
    return Usage();
  }

  std::unique_ptr<NumcodecsAnchor> anchor;
  if (!python.empty()) anchor = std::make_unique<NumcodecsAnchor>(python, chunk);
  std::string numcodecs_version;
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-20s %7s %12s %12s %12s %16s\n", "codec", "ratio", "decode GB/s", "(median)",
              "encode MB/s", "numcodecs GB/s");
  for (const Contender& c : Contenders()) {
    auto codec = registry.Create(c.config, {.element_size = 4});
    if (!codec.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(), codec.status().ToString().c_str());
      return 1;
    }
    Bytes encoded;
    bool ok = true;
    const Rates encode = Measure([&] { ok &= (*codec)->Encode(chunk, encoded).ok(); }, chunk.size(),
                                 repeats, seconds / 2);
    const Rates decode = Measure([&] { ok &= (*codec)->DecodeInto(encoded, decoded).ok(); },
                                 chunk.size(), repeats, seconds);
    if (!ok || decoded != chunk) {
      std::fprintf(stderr, "%s: round trip failed\n", c.name.c_str());
      return 1;
    }
    nlohmann::json r = {{"codec", c.name},
                        {"config", c.config},
                        {"ratio", static_cast<double>(chunk.size()) / encoded.size()},
                        {"encoded_bytes", encoded.size()},
                        {"decode_bytes_per_s_best", decode.best},
                        {"decode_bytes_per_s_median", decode.median},
                        {"encode_bytes_per_s_best", encode.best}};
    char anchor_text[64] = "-";
    if (anchor && c.config["id"] != "raw") {
      const nlohmann::json theirs = anchor->Measure(c.config, repeats, seconds);
      if (theirs.is_object()) {
        numcodecs_version = theirs["numcodecs_version"];
        r["numcodecs_decode_bytes_per_s_best"] = theirs["decode_best"];
        r["numcodecs_decode_bytes_per_s_median"] = theirs["decode_median"];
        std::snprintf(anchor_text, sizeof anchor_text, "%.2f (%.2f)",
                      theirs["decode_best"].get<double>() / 1e9,
                      theirs["decode_median"].get<double>() / 1e9);
      }
    }
    std::printf("%-20s %7.2f %12.2f %12.2f %12.0f %16s\n", c.name.c_str(), r["ratio"].get<double>(),
                decode.best / 1e9, decode.median / 1e9, encode.best / 1e6, anchor_text);
    results.push_back(std::move(r));
  }

  // Digests over the same chunk, for the checksum op.
  nlohmann::json digests = nlohmann::json::array();
  volatile uint64_t sink = 0;
  std::vector<std::pair<std::string, std::function<void()>>> digest_work = {
      {"xxh64", [&] { sink = sink + batchd::pipeline::XxHash64(chunk); }},
      {"crc32c", [&] { sink = sink + batchd::pipeline::Crc32c(chunk); }},
      {"crc32c-portable", [&] { sink = sink + batchd::pipeline::crc32c::Portable(chunk); }},
  };
  std::printf("\n%-20s %12s %12s\n", "digest", "GB/s", "(median)");
  for (auto& [name, work] : digest_work) {
    const Rates rates = Measure(work, chunk.size(), repeats, seconds);
    std::printf("%-20s %12.2f %12.2f\n", name.c_str(), rates.best / 1e9, rates.median / 1e9);
    digests.push_back(
        {{"digest", name}, {"bytes_per_s_best", rates.best}, {"bytes_per_s_median", rates.median}});
  }

  nlohmann::json line = {{"bench", "codec_decode"},
                         {"chunk_bytes", chunk.size()},
                         {"dtype", "<f4"},
                         {"threads", 1},
                         {"repeats", repeats},
                         {"seconds_per_repeat", seconds},
                         {"codecs", results},
                         {"digests", digests},
                         {"crc32c_hardware", batchd::pipeline::crc32c::HardwareAvailable()}};
  if (!numcodecs_version.empty()) line["numcodecs_version"] = numcodecs_version;
  std::printf("%s\n", line.dump().c_str());
  return 0;
}
