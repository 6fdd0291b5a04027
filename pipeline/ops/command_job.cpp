#include "pipeline/ops/command_job.h"

#include <cstdlib>
#include <map>

namespace batchd::pipeline {
namespace {

// execve's own bound is 128 KiB per string; a job is stored with every session, so its text
// is bounded well below what a kernel would take.
constexpr size_t kMaxItemBytes = 64 << 10;
constexpr size_t kMaxItems = 4096;
constexpr double kMaxTimeoutS = 30.0 * 24 * 3600;

// What a program gets of the daemon's own environment: enough to find its tools and speak the
// locale, nothing of the daemon's configuration (BATCHD_TOKEN_FILE, ...).
constexpr const char* kPassedVariables[] = {"PATH", "HOME",   "LANG", "LC_ALL",
                                            "TZ",   "TMPDIR", "USER", "LOGNAME"};

// The text a scalar stands for in argv or env; kInvalidArgument otherwise.
Result<std::string> ArgumentText(const nlohmann::json& v, const std::string& what) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_number() || v.is_boolean()) {
    text = v.dump();
  } else {
    return Status::InvalidArgument("command: " + what +
                                   " must be a string, a number or a boolean, got " +
                                   std::string(v.type_name()));
  }
  if (text.find('\0') != std::string::npos) {
    return Status::InvalidArgument("command: " + what + " holds a NUL byte");
  }
  if (text.size() > kMaxItemBytes) {
    return Status::InvalidArgument("command: " + what + " is " + std::to_string(text.size()) +
                                   " bytes long; at most " + std::to_string(kMaxItemBytes) +
                                   " are allowed");
  }
  return text;
}

bool IsEnvName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::vector<std::string>> Argv(const nlohmann::json& v) {
  if (!v.is_array() || v.empty()) {
    return Status::InvalidArgument("command: \"argv\" must be a non-empty array, got " +
                                   std::string(v.type_name()));
  }
  if (v.size() > kMaxItems) {
    return Status::InvalidArgument("command: \"argv\" has " + std::to_string(v.size()) +
                                   " items; at most " + std::to_string(kMaxItems));
  }
  std::vector<std::string> argv;
  for (size_t i = 0; i < v.size(); ++i) {
    Result<std::string> text = ArgumentText(v[i], "argv[" + std::to_string(i) + "]");
    if (!text.ok())
      return Status(text.status().code(), text.status().message(), "/" + std::to_string(i));
    argv.push_back(std::move(*text));
  }
  if (argv[0].empty()) return Status::InvalidArgument("command: argv[0] is empty", "/0");
  return argv;
}

Result<std::vector<std::pair<std::string, std::string>>> Env(const nlohmann::json& v) {
  if (!v.is_object()) {
    return Status::InvalidArgument("command: \"env\" must be an object of NAME: value, got " +
                                   std::string(v.type_name()));
  }
  if (v.size() > kMaxItems) {
    return Status::InvalidArgument("command: \"env\" has too many variables; at most " +
                                   std::to_string(kMaxItems));
  }
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& [name, value] : v.items()) {
    if (!IsEnvName(name)) {
      return Status::InvalidArgument(
          "command: env name \"" + name + "\" is not of letters, digits and _", "/" + name);
    }
    if (name.starts_with("BATCHD_")) {
      return Status::InvalidArgument(
          "command: env name \"" + name + "\" is reserved (BATCHD_* are set by batchd)",
          "/" + name);
    }
    Result<std::string> text = ArgumentText(value, "env " + name);
    if (!text.ok()) return Status(text.status().code(), text.status().message(), "/" + name);
    env.emplace_back(name, std::move(*text));
  }
  return env;
}

Status WithPrefix(const Status& s, const std::string& member) {
  return Status(s.code(), s.message(), member + s.path());
}

}  // namespace

std::vector<std::string> ProgramEnvironment(const CommandJob& job, const ProgramPlace& place,
                                            const std::string& result_file) {
  std::map<std::string, std::string> vars;
  for (const char* name : kPassedVariables) {
    if (const char* v = std::getenv(name)) vars[name] = v;
  }
  if (!vars.count("PATH")) vars["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [name, value] : job.env) vars[name] = value;
  vars["BATCHD_SESSION_ID"] = std::to_string(place.session_id);
  vars["BATCHD_BATCH_ID"] = place.batch_id;
  vars["BATCHD_RUN"] = std::to_string(place.run);
  vars["BATCHD_INDEX"] = place.index_json;
  vars["BATCHD_ATTEMPT"] = std::to_string(place.attempt);
  vars["BATCHD_RESULT_FILE"] = result_file;
  std::vector<std::string> env;
  env.reserve(vars.size());
  for (const auto& [name, value] : vars) env.push_back(name + "=" + value);
  return env;
}

bool JsonNestedDeeper(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

Status CheckCommandMember(std::string_view pointer, const nlohmann::json& value) {
  if (pointer == "/argv") {
    Result<std::vector<std::string>> argv = Argv(value);
    return argv.ok() ? Status::Ok() : Status(argv.status().code(), argv.status().message());
  }
  if (pointer == "/env") {
    auto env = Env(value);
    return env.ok() ? Status::Ok() : Status(env.status().code(), env.status().message());
  }
  if (pointer == "/cwd") {
    if (!value.is_string() || value.get_ref<const std::string&>().empty() ||
        value.get_ref<const std::string&>()[0] != '/') {
      return Status::InvalidArgument("command: \"cwd\" must be an absolute path, got " +
                                     value.dump());
    }
    return Status::Ok();
  }
  if (pointer == "/timeout_s") {
    if (!value.is_number() || value.get<double>() <= 0 || value.get<double>() > kMaxTimeoutS) {
      return Status::InvalidArgument(
          "command: \"timeout_s\" must be a number of seconds above 0 "
          "and at most 2592000 (30 days), got " +
          value.dump());
    }
    return Status::Ok();
  }
  if (pointer == "/transient_exit_codes") {
    bool ok = value.is_array() && value.size() <= 255;
    for (size_t i = 0; ok && i < value.size(); ++i) {
      ok = value[i].is_number_integer() && value[i].get<int64_t>() >= 1 &&
           value[i].get<int64_t>() <= 255;
    }
    if (!ok) {
      return Status::InvalidArgument(
          "command: \"transient_exit_codes\" must be an array of exit codes from 1 to 255, got " +
          value.dump());
    }
    return Status::Ok();
  }
  return Status::Ok();
}

Result<CommandJob> ParseCommandJob(const nlohmann::json& job) {
  CommandJob out;
  const auto argv = job.find("argv");
  if (argv == job.end()) return Status::InvalidArgument("command: job needs \"argv\"", "/argv");
  Result<std::vector<std::string>> args = Argv(*argv);
  if (!args.ok()) return WithPrefix(args.status(), "/argv");
  out.argv = std::move(*args);
  if (const auto env = job.find("env"); env != job.end() && !env->is_null()) {
    auto vars = Env(*env);
    if (!vars.ok()) return WithPrefix(vars.status(), "/env");
    out.env = std::move(*vars);
  }
  for (const char* member : {"/cwd", "/timeout_s", "/transient_exit_codes"}) {
    const nlohmann::json::json_pointer p(member);
    if (!job.contains(p) || job.at(p).is_null()) continue;
    if (Status s = CheckCommandMember(member, job.at(p)); !s.ok()) {
      return Status(s.code(), s.message(), member);
    }
  }
  if (job.contains("cwd") && job["cwd"].is_string()) out.cwd = job["cwd"].get<std::string>();
  if (job.contains("timeout_s") && job["timeout_s"].is_number()) {
    out.timeout_ms = static_cast<int64_t>(job["timeout_s"].get<double>() * 1000.0 + 0.5);
    if (*out.timeout_ms < 1) out.timeout_ms = 1;
  }
  if (job.contains("transient_exit_codes") && job["transient_exit_codes"].is_array()) {
    out.transient_exit_codes = job["transient_exit_codes"].get<std::vector<int>>();
  }
  return out;
}

nlohmann::json CommandJob::ToJson() const {
  nlohmann::json env_json = nlohmann::json::array();
  for (const auto& [k, v] : env) env_json.push_back({k, v});
  nlohmann::json j = {{"argv", argv},
                      {"env", env_json},
                      {"cwd", cwd},
                      {"transient_exit_codes", transient_exit_codes}};
  if (timeout_ms) j["timeout_ms"] = *timeout_ms;
  return j;
}

Result<CommandJob> CommandJob::FromJson(const nlohmann::json& resolved) {
  try {
    CommandJob job;
    job.argv = resolved.at("argv").get<std::vector<std::string>>();
    for (const nlohmann::json& pair : resolved.at("env")) {
      job.env.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    job.cwd = resolved.at("cwd").get<std::string>();
    job.transient_exit_codes = resolved.at("transient_exit_codes").get<std::vector<int>>();
    if (resolved.contains("timeout_ms")) job.timeout_ms = resolved["timeout_ms"].get<int64_t>();
    if (job.argv.empty()) return Status::Internal("stored command state has no argv");
    return job;
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(std::string("stored command state does not parse: ") + e.what());
  }
}

}  // namespace batchd::pipeline
