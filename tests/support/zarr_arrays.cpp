#include "tests/support/zarr_arrays.h"

#include <cmath>
#include <future>

#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {

Result<std::vector<nlohmann::json>> MakeArrays(const std::vector<ArraySpec>& specs) {
  auto make = [](const ArraySpec& spec) {
    std::vector<std::string> argv = {
        kSystemPython,
        (spec.zarr_v3 ? E2eScriptsDir() / "make_zarr_v3.py" : SharedAnchorsDir() / "make_zarr.py")
            .string(),
        spec.path.string()};
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    return RunJsonCommand(argv);
  };
  std::vector<nlohmann::json> out;
  constexpr size_t kParallel = 2;
  for (size_t i = 0; i < specs.size(); i += kParallel) {
    std::vector<std::future<Result<nlohmann::json>>> running;
    for (size_t j = i; j < std::min(specs.size(), i + kParallel); ++j) {
      running.push_back(std::async(std::launch::async, make, specs[j]));
    }
    for (auto& f : running) {
      Result<nlohmann::json> r = f.get();
      if (!r.ok()) return r.status();
      out.push_back(std::move(*r));
    }
  }
  return out;
}

std::string FileUrl(const std::filesystem::path& path) {
  return "file://" + std::filesystem::absolute(path).lexically_normal().string();
}

Result<nlohmann::json> CompareArrays(const std::filesystem::path& expected,
                                     const std::filesystem::path& actual) {
  return RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_compare.py").string(),
                         expected.string(), actual.string()});
}

Result<nlohmann::json> CompareWithZarrita(const std::filesystem::path& expected,
                                          const std::filesystem::path& zarr_v3) {
  TempDir scratch;
  const std::filesystem::path raw = scratch.path() / "zarrita.raw";
  RETURN_IF_ERROR(
      RunJsonCommand({"node", std::string(BATCHD_SOURCE_DIR) + "/tests/zarrita/read_raw.mjs",
                      zarr_v3.string(), raw.string()})
          .status());
  return RunJsonCommand({kSystemPython, (E2eScriptsDir() / "compare_raw.py").string(),
                         expected.string(), raw.string()});
}

std::string StatsMismatch(const nlohmann::json& result, const nlohmann::json& oracle) {
  std::string out;
  for (const char* exact : {"count", "nan_count", "min", "max"}) {
    if (!result.contains(exact) || result[exact] != oracle[exact]) {
      out += std::string(exact) + ": got " + result.value(exact, nlohmann::json()).dump() +
             ", numpy says " + oracle[exact].dump() + "; ";
    }
  }
  for (const char* close : {"sum", "mean"}) {
    const nlohmann::json got = result.value(close, nlohmann::json());
    const double want = oracle[close].get<double>();
    if (!got.is_number() ||
        std::abs(got.get<double>() - want) > 1e-9 * std::max(1.0, std::abs(want))) {
      out += std::string(close) + ": got " + got.dump() + ", numpy says " + oracle[close].dump() +
             "; ";
    }
  }
  return out;
}

}  // namespace batchd::testing
