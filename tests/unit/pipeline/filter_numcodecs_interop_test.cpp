// The filters against the real numcodecs (Debian's python3-numcodecs, run as /usr/bin/python3):
// for each case the peer script makes the data (full-range integers that overflow the stored
// type, normal floats, values FixedScaleOffset packs), encodes it with numcodecs and decodes
// that again; we must decode numcodecs' encoding to exactly numcodecs' decoding, byte for byte,
// and encode the data to exactly numcodecs' encoding. One Python run per test binary.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "pipeline/filters/filter.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

// For each case of the manifest: NAME.raw (the data, as the filter's dtype), NAME.enc
// (numcodecs' encoding), NAME.dec (numcodecs' decoding of NAME.enc).
constexpr const char* kPeerScript = R"PY(
import json, os, sys
import numpy as np
import numcodecs

root = sys.argv[1]
for case in json.load(open(os.path.join(root, "manifest.json"))):
    codec = numcodecs.get_codec(dict(case["config"]))
    dtype, astype = codec.dtype, codec.astype
    rng = np.random.default_rng(case["seed"])
    n = case["n"]
    if case["data"] == "full_range":
        info = np.iinfo(dtype)
        raw = rng.integers(info.min, info.max, size=n, endpoint=True, dtype=dtype.newbyteorder("="))
    elif case["data"] == "normal":
        raw = rng.normal(280.0, 15.0, size=n)
    else:  # "packable": values FixedScaleOffset maps into astype's range
        lo, hi = (np.iinfo(astype).min, np.iinfo(astype).max) if astype.kind in "iu" else (-1e4, 1e4)
        scale, offset = codec.scale, codec.offset
        raw = offset + rng.uniform(lo + 1, hi - 1, size=n) / scale
    raw = np.asarray(raw).astype(dtype)
    enc = np.ascontiguousarray(codec.encode(raw))
    dec = np.ascontiguousarray(codec.decode(enc))
    for suffix, a in (("raw", raw), ("enc", enc), ("dec", dec)):
        with open(os.path.join(root, case["name"] + "." + suffix), "wb") as f:
            f.write(a.tobytes())
)PY";

struct InteropCase {
  std::string name;
  nlohmann::json config;
  std::string data;  // full_range | normal | packable
  size_t n = 10000;
};

std::vector<InteropCase> MakeCases() {
  auto delta = [](const char* dtype, const char* astype) {
    return nlohmann::json{{"id", "delta"}, {"dtype", dtype}, {"astype", astype}};
  };
  auto fso = [](nlohmann::json offset, nlohmann::json scale, const char* dtype,
                const char* astype) {
    return nlohmann::json{{"id", "fixedscaleoffset"},
                          {"offset", offset},
                          {"scale", scale},
                          {"dtype", dtype},
                          {"astype", astype}};
  };
  return {
      {"delta_i4", delta("<i4", "<i4"), "full_range"},
      {"delta_be_i4", delta(">i4", ">i4"), "full_range"},
      {"delta_u1", delta("|u1", "|u1"), "full_range"},
      {"delta_i8", delta("<i8", "<i8"), "full_range"},
      {"delta_u8", delta("<u8", "<u8"), "full_range"},
      {"delta_i2_as_i1", delta("<i2", "|i1"), "full_range"},  // the stored diffs overflow
      {"delta_u1_as_i2", delta("|u1", "<i2"), "full_range"},
      {"delta_u2_as_i2", delta("<u2", "<i2"), "full_range"},
      {"delta_i4_as_u2", delta("<i4", "<u2"), "full_range"},
      {"delta_u4_as_i8", delta("<u4", "<i8"), "full_range"},
      {"delta_f8", delta("<f8", "<f8"), "normal"},
      {"delta_be_f8", delta(">f8", ">f8"), "normal"},
      {"delta_f4", delta("<f4", "<f4"), "normal"},
      // Over numpy's 8192-element buffer: the float32 -> float64 cast is buffered.
      {"delta_f8_as_f4", delta("<f8", "<f4"), "normal", 20000},
      // The numcodecs documentation's examples, then other stored types.
      {"fso_docs_u1", fso(1000, 10, "<f8", "|u1"), "packable"},
      {"fso_docs_u1_scale_100", fso(1000, 100, "<f8", "|u1"), "packable"},
      {"fso_docs_u2", fso(1000, 1000, "<f8", "<u2"), "packable"},
      {"fso_f8_as_i2", fso(280.5, 100, "<f8", "<i2"), "packable"},
      {"fso_be_f8_as_be_i2", fso(280, 10.0, ">f8", ">i2"), "packable"},
      {"fso_f4_as_i2", fso(280, 100, "<f4", "<i2"), "packable"},
      {"fso_f8_as_i4", fso(-3.25, 1e4, "<f8", "<i4"), "packable"},
      {"fso_f8_as_f8", fso(1000, 10, "<f8", "<f8"), "packable"},
      {"fso_f4_as_f4", fso(3.3, 0.1, "<f4", "<f4"), "packable"},
      {"fso_f8_as_f4", fso(1000, 10, "<f8", "<f4"), "packable"},
      {"fso_i4_as_u1", fso(-100, 1, "<i4", "|u1"), "packable"},
      {"fso_i8_as_i2", fso(1000000, 0.5, "<i8", "<i2"), "packable"},
  };
}

Bytes ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class FilterNumcodecsInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/batchd-filters-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = new fs::path(pattern);
    nlohmann::json manifest = nlohmann::json::array();
    int seed = 0;
    for (const InteropCase& c : MakeCases()) {
      manifest.push_back(
          {{"name", c.name}, {"config", c.config}, {"data", c.data}, {"n", c.n}, {"seed", ++seed}});
    }
    std::ofstream(*root_ / "manifest.json") << manifest.dump();
    std::ofstream(*root_ / "peer.py") << kPeerScript;
    const std::string command = std::string("timeout 300 ") + kPython + " " +
                                (*root_ / "peer.py").string() + " " + root_->string() + " > " +
                                (*root_ / "peer.log").string() + " 2>&1";
    peer_status_ = std::system(command.c_str());
  }

  static void TearDownTestSuite() {
    if (root_ != nullptr) fs::remove_all(*root_);
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override {
    std::ifstream log(*root_ / "peer.log");
    ASSERT_EQ(peer_status_, 0) << "the numcodecs peer failed:\n"
                               << std::string(std::istreambuf_iterator<char>(log),
                                              std::istreambuf_iterator<char>());
    RegisterBuiltinFilters(registry_);
  }

  std::unique_ptr<const Filter> Make(const nlohmann::json& config) {
    auto dtype = DataType::FromNumpy(config.at("dtype").get<std::string>());
    EXPECT_TRUE(dtype.ok());
    auto filter = registry_.Create(config, {.dtype = *dtype, .chunk_shape = {}});
    EXPECT_TRUE(filter.ok()) << filter.status().ToString();
    return filter.ok() ? std::move(*filter) : nullptr;
  }

  static fs::path* root_;
  static int peer_status_;
  FilterRegistry registry_;
};

fs::path* FilterNumcodecsInteropTest::root_ = nullptr;
int FilterNumcodecsInteropTest::peer_status_ = -1;

TEST_F(FilterNumcodecsInteropTest, WeDecodeWhatNumcodecsEncodesToWhatNumcodecsDecodes) {
  for (const InteropCase& c : MakeCases()) {
    SCOPED_TRACE(c.name);
    auto filter = Make(c.config);
    ASSERT_NE(filter, nullptr);
    const Bytes enc = ReadFile(*root_ / (c.name + ".enc"));
    const Bytes dec = ReadFile(*root_ / (c.name + ".dec"));
    ASSERT_EQ(enc.size(), c.n * filter->EncodedType().size);
    ASSERT_EQ(dec.size(), c.n * filter->DecodedType().size);
    Bytes ours(dec.size());
    ASSERT_OK(filter->DecodeInto(enc, ours));
    size_t first_difference = 0;
    while (first_difference < dec.size() && ours[first_difference] == dec[first_difference]) {
      ++first_difference;
    }
    EXPECT_EQ(first_difference, dec.size())
        << "first different byte " << first_difference << " (element "
        << first_difference / filter->DecodedType().size << ")";
  }
}

TEST_F(FilterNumcodecsInteropTest, WeEncodeWhatNumcodecsEncodes) {
  for (const InteropCase& c : MakeCases()) {
    SCOPED_TRACE(c.name);
    auto filter = Make(c.config);
    ASSERT_NE(filter, nullptr);
    const Bytes raw = ReadFile(*root_ / (c.name + ".raw"));
    const Bytes enc = ReadFile(*root_ / (c.name + ".enc"));
    Bytes ours;
    ASSERT_OK(filter->Encode(raw, ours));
    EXPECT_TRUE(ours == enc);
  }
}

}  // namespace
}  // namespace batchd::pipeline
