// The members of a `command` job (docs/command.md, "The job"), checked and turned into text:
// argv items and env values may be strings, numbers (their JSON text: 0.1 -> "0.1") or
// booleans, so that data items can substitute any of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::pipeline {

struct CommandJob {
  std::vector<std::string> argv;  // argv[0] as the job gives it (resolved by the allowlist)
  std::vector<std::pair<std::string, std::string>> env;  // the job's own variables
  std::string cwd;                                       // empty: the daemon's
  std::optional<int64_t> timeout_ms;
  std::vector<int> transient_exit_codes = {75};  // EX_TEMPFAIL

  // The prepared state stored with the session, and back.
  nlohmann::json ToJson() const;
  static Result<CommandJob> FromJson(const nlohmann::json& resolved);
};

// Reads and checks every member of `job`. kInvalidArgument with the member's path ("/argv/2",
// "/env/K", "/timeout_s").
Result<CommandJob> ParseCommandJob(const nlohmann::json& job);

// The submit-time check of one member (Op::CheckMember): "/argv", "/env", "/cwd",
// "/timeout_s" or "/transient_exit_codes". Messages carry no path (the caller adds it).
Status CheckCommandMember(std::string_view pointer, const nlohmann::json& value);

}  // namespace batchd::pipeline
