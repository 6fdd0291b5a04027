// Test arrays written by the real zarr-python (Debian's python3-zarr, through
// ../shared/anchors/make_zarr.py) or, for zarr v3, by tests/e2e/make_zarr_v3.py with numcodecs,
// each with numpy's statistics of the data as the oracle; and checks of batchd's results
// against them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::testing {

struct ArraySpec {
  std::filesystem::path path;
  std::vector<std::string> args;  // e.g. {"--shape", "37,53", "--chunks", "8,16"}
  bool zarr_v3 = false;
};

// Writes every array (two writers at a time: each is a Python process) and returns the oracle
// line each printed, in order. Fails with the writer's stderr.
Result<std::vector<nlohmann::json>> MakeArrays(const std::vector<ArraySpec>& specs);

// "file:///abs/path"
std::string FileUrl(const std::filesystem::path& path);

// zarr-python's comparison of two arrays (tests/e2e/zarr_compare.py):
// {"equal", "expected": {...}, "actual": {...}, "mismatches"}.
Result<nlohmann::json> CompareArrays(const std::filesystem::path& expected,
                                     const std::filesystem::path& actual);

// zarrita's reading (tests/zarrita/read_raw.mjs, independent of batchd) of the zarr v3 array at
// `zarr_v3` against zarr-python's of the zarr v2 array at `expected` (tests/e2e/compare_raw.py):
// {"equal", "shape", "dtype", "mismatches"}. For sharded arrays, which zarr-python 2 cannot read.
Result<nlohmann::json> CompareWithZarrita(const std::filesystem::path& expected,
                                          const std::filesystem::path& zarr_v3);

// Empty if a stats `result` matches the oracle exactly for count, nan_count, min and max and
// within 1e-9 relative for sum and mean; otherwise what differs.
std::string StatsMismatch(const nlohmann::json& result, const nlohmann::json& oracle);

}  // namespace batchd::testing
