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

// Whether `text` has brackets nested deeper than `max_depth` outside strings: such JSON is
// refused before parsing, as a request body is (core/batch_spec.cpp), since the JSON library
// recurses over the depth.
bool JsonNestedDeeper(std::string_view text, int max_depth);

// Where a program stands in its batch, for its environment (docs/command.md, "What the program
// gets").
struct ProgramPlace {
  int64_t session_id = 0;
  std::string batch_id;
  uint64_t run = 0;
  std::string index_json;  // "[2, 1]"
  int64_t attempt = 1;
};

// The program's whole environment: a few of the daemon's variables, the job's env, then the
// BATCHD_* ones ("NAME=VALUE" items, sorted by name).
std::vector<std::string> ProgramEnvironment(const CommandJob& job, const ProgramPlace& place,
                                            const std::string& result_file);

}  // namespace batchd::pipeline
