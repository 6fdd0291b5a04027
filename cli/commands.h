// The CLI's subcommands, talking to a running daemon over HTTP and WebSocket
// (docs/api.md, "Command line"). `batchd serve` is not one of them: it is the daemon itself.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/command_context.h"

namespace batchd::cli {

struct Command {
  std::string name;   // "submit"
  std::string usage;  // "FILE [--watch]"
  std::string summary;
  // `args` are the command's own arguments (after its name). Returns the exit code.
  std::function<int(CommandContext&, const std::vector<std::string>& args)> run;
};

// Every subcommand, in the order `batchd --help` lists them (a registry: main dispatches by
// name without knowing any).
const std::vector<Command>& Commands();
const Command* FindCommand(const std::string& name);

// Runs `batchd ARGS...` for a subcommand: takes --server URL (anywhere) or BATCHD_URL
// (default http://127.0.0.1:8080), then runs the named command. `getenv` is injectable for
// tests. Returns the exit code.
int RunCommand(const std::vector<std::string>& args, const char* (*getenv)(const char*) = nullptr);

// `batchd logs` (log_command.cpp).
Command LogsCommand();

// `batchd nodes` (node_command.cpp).
Command NodesCommand();

// The commands part of `batchd --help`.
std::string CommandsHelp();

}  // namespace batchd::cli
