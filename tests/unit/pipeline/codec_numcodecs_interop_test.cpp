// Interoperability with the real numcodecs (Debian's python3-numcodecs, run as /usr/bin/python3):
// bytes numcodecs encodes decode to the same buffer here, and bytes we encode decode in
// numcodecs. One Python run per test binary: the C++ side writes each case's raw data and our
// encoding into a temp dir with a manifest; the script writes numcodecs' encodings and whether
// it decoded ours; the tests then check both directions, case by case.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "codec_test_data.h"
#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

namespace fs = std::filesystem;
using testing::FieldBytes;
using testing::RandomBytes;

constexpr const char* kPython = "/usr/bin/python3";

// Reads the manifest; for each case encodes the raw data with numcodecs (NAME.theirs) and
// decodes our encoding (NAME.ours). Also writes zstd inputs numcodecs cannot be configured to
// produce through a codec: two frames, with skippable frames around them.
constexpr const char* kPeerScript = R"PY(
import json, os, struct, sys
import numpy as np
import numcodecs
from numcodecs.compat import ensure_bytes

root = sys.argv[1]
manifest = json.load(open(os.path.join(root, "manifest.json")))
results = {"numcodecs_version": numcodecs.__version__, "cases": {}}
for case in manifest:
    name = case["name"]
    raw = open(os.path.join(root, name + ".raw"), "rb").read()
    codec = numcodecs.get_codec(dict(case["config"]))
    array = np.frombuffer(raw, dtype=case["dtype"])
    theirs = ensure_bytes(codec.encode(array))
    with open(os.path.join(root, name + ".theirs"), "wb") as f:
        f.write(theirs)
    ours = open(os.path.join(root, name + ".ours"), "rb").read()
    try:
        decoded = ensure_bytes(codec.decode(ours))
        outcome = "equal" if decoded == raw else "decoded %d different bytes" % len(decoded)
    except Exception as e:
        outcome = "numcodecs failed: %r" % (e,)
        try:
            codec.decode(theirs)
        except Exception:
            outcome = "numcodecs cannot decode its own encoding either"
    results["cases"][name] = outcome

def skippable(payload):
    return struct.pack("<II", 0x184D2A53, len(payload)) + payload

first = open(os.path.join(root, "concat_first.raw"), "rb").read()
second = open(os.path.join(root, "concat_second.raw"), "rb").read()
zstd = numcodecs.Zstd(level=3)
with open(os.path.join(root, "zstd_two_frames.theirs"), "wb") as f:
    f.write(zstd.encode(first) + zstd.encode(second))
with open(os.path.join(root, "zstd_skippable_frames.theirs"), "wb") as f:
    f.write(skippable(b"meta") + zstd.encode(first) + skippable(b"") + zstd.encode(second))
json.dump(results, open(os.path.join(root, "results.json"), "w"))
)PY";

struct InteropCase {
  std::string name;
  nlohmann::json config;
  std::string dtype;  // numpy's spelling; its item size is the codec's element size
  size_t element_size;
  Bytes raw;
};

std::vector<InteropCase> MakeCases() {
  const Bytes field = FieldBytes(1 << 20, 1);  // a 512 x 512 float32 chunk
  std::vector<InteropCase> cases = {
      {"lz4", {{"id", "lz4"}, {"acceleration", 1}}, "<f4", 4, field},
      {"lz4_acceleration_5", {{"id", "lz4"}, {"acceleration", 5}}, "<f4", 4, field},
      {"lz4_random", {{"id", "lz4"}, {"acceleration", 1}}, "|u1", 1, RandomBytes(100003, 2)},
      {"lz4_empty", {{"id", "lz4"}, {"acceleration", 1}}, "|u1", 1, Bytes{}},
      {"lz4_one_byte", {{"id", "lz4"}, {"acceleration", 1}}, "|u1", 1, Bytes{42}},
      {"zstd_level_1", {{"id", "zstd"}, {"level", 1}}, "<f4", 4, field},
      {"zstd_level_3", {{"id", "zstd"}, {"level", 3}}, "<f4", 4, field},
      {"zstd_level_9", {{"id", "zstd"}, {"level", 9}}, "<f8", 8, field},
      {"zstd_level_minus_3", {{"id", "zstd"}, {"level", -3}}, "<f4", 4, field},
      {"zstd_random", {{"id", "zstd"}, {"level", 3}}, "|u1", 1, RandomBytes(100003, 3)},
      {"zstd_empty", {{"id", "zstd"}, {"level", 1}}, "|u1", 1, Bytes{}},
      {"zlib_level_1", {{"id", "zlib"}, {"level", 1}}, "<f4", 4, field},
      {"zlib_level_9", {{"id", "zlib"}, {"level", 9}}, "<f8", 8, field},
      {"zlib_random", {{"id", "zlib"}, {"level", 1}}, "|u1", 1, RandomBytes(100003, 7)},
      {"zlib_empty", {{"id", "zlib"}, {"level", 1}}, "|u1", 1, Bytes{}},
      {"gzip_level_1", {{"id", "gzip"}, {"level", 1}}, "<f4", 4, field},
      {"gzip_level_9", {{"id", "gzip"}, {"level", 9}}, "<f8", 8, field},
      {"gzip_random", {{"id", "gzip"}, {"level", 5}}, "|u1", 1, RandomBytes(100003, 8)},
      {"gzip_empty", {{"id", "gzip"}, {"level", 1}}, "|u1", 1, Bytes{}},
      {"bz2_level_1", {{"id", "bz2"}, {"level", 1}}, "<f4", 4, field},
      {"bz2_level_9", {{"id", "bz2"}, {"level", 9}}, "<f8", 8, field},
      {"bz2_random", {{"id", "bz2"}, {"level", 1}}, "|u1", 1, RandomBytes(100003, 9)},
      {"bz2_empty", {{"id", "bz2"}, {"level", 1}}, "|u1", 1, Bytes{}},
  };
  const std::vector<std::pair<std::string, size_t>> dtypes = {
      {"|u1", 1}, {"<u2", 2}, {"<f4", 4}, {"<f8", 8}};
  for (const char* cname : {"lz4", "zstd", "blosclz", "lz4hc", "zlib"}) {
    for (int shuffle : {-1, 0, 1, 2}) {
      for (const auto& [dtype, element_size] : dtypes) {
        // Every compressor with the default shuffle; lz4 and zstd with every shuffle and size.
        const bool main_cname = std::string(cname) == "lz4" || std::string(cname) == "zstd";
        if (!main_cname && !(shuffle == 1 && element_size == 4)) continue;
        const std::string shuffle_name = shuffle < 0 ? "auto" : std::to_string(shuffle);
        cases.push_back({"blosc_" + std::string(cname) + "_shuffle_" + shuffle_name + "_" +
                             std::to_string(element_size),
                         {{"id", "blosc"},
                          {"cname", cname},
                          {"clevel", 5},
                          {"shuffle", shuffle},
                          {"blocksize", 0}},
                         dtype,
                         element_size,
                         field});
      }
    }
  }
  cases.push_back(
      {"blosc_zstd_clevel_9_blocksize_64k",
       {{"id", "blosc"}, {"cname", "zstd"}, {"clevel", 9}, {"shuffle", 2}, {"blocksize", 65536}},
       "<f4",
       4,
       field});
  cases.push_back(
      {"blosc_lz4_random",
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}},
       "<u2",
       2,
       RandomBytes(100002, 4)});
  cases.push_back(
      {"blosc_lz4_empty",
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}},
       "<f4",
       4,
       Bytes{}});
  return cases;
}

Bytes ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, ByteView data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

class NumcodecsInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/batchd-numcodecs-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = new fs::path(pattern);
    cases_ = new std::vector<InteropCase>(MakeCases());
    concat_first_ = new Bytes(FieldBytes(300000, 5));
    concat_second_ = new Bytes(FieldBytes(123457, 6));

    CodecRegistry registry;
    RegisterBuiltinCodecs(registry);
    nlohmann::json manifest = nlohmann::json::array();
    for (const InteropCase& c : *cases_) {
      auto codec = registry.Create(c.config, {.element_size = c.element_size});
      ASSERT_TRUE(codec.ok()) << c.name << ": " << codec.status().ToString();
      Bytes ours;
      ASSERT_OK((*codec)->Encode(c.raw, ours));
      WriteFile(*root_ / (c.name + ".raw"), c.raw);
      WriteFile(*root_ / (c.name + ".ours"), ours);
      manifest.push_back({{"name", c.name}, {"config", c.config}, {"dtype", c.dtype}});
    }
    WriteFile(*root_ / "concat_first.raw", *concat_first_);
    WriteFile(*root_ / "concat_second.raw", *concat_second_);
    std::ofstream(*root_ / "manifest.json") << manifest.dump();
    std::ofstream(*root_ / "peer.py") << kPeerScript;

    const std::string command = std::string("timeout 300 ") + kPython + " " +
                                (*root_ / "peer.py").string() + " " + root_->string() + " > " +
                                (*root_ / "peer.log").string() + " 2>&1";
    const int exit_status = std::system(command.c_str());
    std::ifstream log(*root_ / "peer.log");
    const std::string log_text((std::istreambuf_iterator<char>(log)),
                               std::istreambuf_iterator<char>());
    ASSERT_EQ(exit_status, 0) << "the numcodecs peer failed (is python3-numcodecs installed? "
                                 "scripts/install-deps.sh installs it):\n"
                              << log_text;
    results_ = new nlohmann::json(nlohmann::json::parse(std::ifstream(*root_ / "results.json")));
  }

  static void TearDownTestSuite() {
    if (root_ != nullptr) fs::remove_all(*root_);
    delete root_;
    delete cases_;
    delete concat_first_;
    delete concat_second_;
    delete results_;
    root_ = nullptr;
    cases_ = nullptr;
    concat_first_ = concat_second_ = nullptr;
    results_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(results_, nullptr) << "the numcodecs peer did not run";
    RegisterBuiltinCodecs(registry_);
  }

  static fs::path* root_;
  static std::vector<InteropCase>* cases_;
  static Bytes* concat_first_;
  static Bytes* concat_second_;
  static nlohmann::json* results_;
  CodecRegistry registry_;
};

fs::path* NumcodecsInteropTest::root_ = nullptr;
std::vector<InteropCase>* NumcodecsInteropTest::cases_ = nullptr;
Bytes* NumcodecsInteropTest::concat_first_ = nullptr;
Bytes* NumcodecsInteropTest::concat_second_ = nullptr;
nlohmann::json* NumcodecsInteropTest::results_ = nullptr;

TEST_F(NumcodecsInteropTest, WeDecodeWhatNumcodecsEncodes) {
  size_t identical = 0;
  for (const InteropCase& c : *cases_) {
    SCOPED_TRACE(c.name);
    ASSERT_OK_AND_ASSIGN(auto codec, registry_.Create(c.config, {.element_size = c.element_size}));
    const Bytes theirs = ReadFile(*root_ / (c.name + ".theirs"));
    ASSERT_FALSE(theirs.empty());
    Bytes decoded(c.raw.size());
    ASSERT_OK(codec->DecodeInto(theirs, decoded));
    EXPECT_TRUE(decoded == c.raw);
    identical += theirs == ReadFile(*root_ / (c.name + ".ours"));
  }
  // Same libraries, same parameters: the encodings are expected to be byte-identical too.
  RecordProperty("byte_identical_encodings",
                 std::to_string(identical) + "/" + std::to_string(cases_->size()));
}

// numcodecs 0.11 fails to decode an empty chunk, even one it encoded itself (its decoders
// treat a decoded size of 0 as an error). There, writing exactly its bytes is all we can do.
TEST_F(NumcodecsInteropTest, NumcodecsDecodesWhatWeEncode) {
  const nlohmann::json& outcomes = results_->at("cases");
  for (const InteropCase& c : *cases_) {
    ASSERT_TRUE(outcomes.contains(c.name)) << c.name;
    if (c.raw.empty() && outcomes.at(c.name) == "numcodecs cannot decode its own encoding either") {
      EXPECT_TRUE(ReadFile(*root_ / (c.name + ".ours")) == ReadFile(*root_ / (c.name + ".theirs")))
          << c.name << ": an empty chunk must be encoded exactly as numcodecs does";
      continue;
    }
    EXPECT_EQ(outcomes.at(c.name), "equal") << c.name;
  }
}

TEST_F(NumcodecsInteropTest, WeDecodeConcatenatedAndSkippableZstdFramesFromNumcodecs) {
  ASSERT_OK_AND_ASSIGN(auto zstd, registry_.Create({{"id", "zstd"}}, {}));
  Bytes expected = *concat_first_;
  expected.insert(expected.end(), concat_second_->begin(), concat_second_->end());
  for (const char* file : {"zstd_two_frames.theirs", "zstd_skippable_frames.theirs"}) {
    Bytes decoded(expected.size());
    ASSERT_OK(zstd->DecodeInto(ReadFile(*root_ / file), decoded));
    EXPECT_TRUE(decoded == expected) << file;
    Bytes first_only(concat_first_->size());
    Status status = zstd->DecodeInto(ReadFile(*root_ / file), first_only);
    EXPECT_EQ(status.code(), StatusCode::kCorrupt) << file;
  }
}

}  // namespace
}  // namespace batchd::pipeline
