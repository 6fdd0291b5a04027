// Dispatching `batchd COMMAND ...`: the global --server and --token options, the terminal, the
// command.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace batchd::cli {
namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

int TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

}  // namespace

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string CommandsHelp() {
  std::string out;
  for (const Command& c : Commands()) {
    std::string left = "  " + c.name + " " + c.usage;
    out += left + std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') + c.summary + "\n";
  }
  return out;
}

int RunCommand(const std::vector<std::string>& args, const char* (*getenv)(const char*)) {
  if (getenv == nullptr) getenv = [](const char* name) -> const char* { return std::getenv(name); };
  std::string server = getenv("BATCHD_URL") != nullptr ? getenv("BATCHD_URL") : kDefaultServer;
  // BATCHD_TOKEN rather than --token where others can list processes: arguments are visible.
  std::string token = getenv("BATCHD_TOKEN") != nullptr ? getenv("BATCHD_TOKEN") : "";
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--server") {
      if (i + 1 >= args.size()) {
        std::cerr << "batchd: --server needs a URL (e.g. http://127.0.0.1:8080)\n";
        return kExitUsage;
      }
      server = args[++i];
    } else if (args[i].starts_with("--server=")) {
      server = args[i].substr(9);
    } else if (args[i] == "--token") {
      if (i + 1 >= args.size()) {
        std::cerr << "batchd: --token needs a value (or set BATCHD_TOKEN)\n";
        return kExitUsage;
      }
      token = args[++i];
    } else if (args[i].starts_with("--token=")) {
      token = args[i].substr(8);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) {
    std::cerr << "batchd: which command? (batchd --help lists them)\n";
    return kExitUsage;
  }
  const Command* command = FindCommand(rest[0]);
  if (command == nullptr) {
    std::cerr << "batchd: unknown command '" << rest[0] << "' (batchd --help lists them)\n";
    return kExitUsage;
  }
  Result<ServerAddress> address = ParseServerUrl(server);
  if (!address.ok()) {
    std::cerr << "batchd: " << address.status().message()
              << (getenv("BATCHD_URL") != nullptr ? " (from --server or BATCHD_URL)" : "") << "\n";
    return kExitUsage;
  }
  DaemonClient daemon(*address);
  daemon.set_token(token);
  CommandContext ctx{daemon, std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1, TerminalWidth()};
  return command->run(ctx, {rest.begin() + 1, rest.end()});
}

}  // namespace batchd::cli
