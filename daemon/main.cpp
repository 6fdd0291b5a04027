// batchd: the persistent batch job orchestrator. `batchd --help` lists the subcommands.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "daemon/json_log_formatter.h"
#include "daemon/serve.h"
#include "daemon/serve_config.h"

namespace {

std::string Usage() {
  return "usage: batchd <command> [options]\n\n"
         "  serve [options]                 run the daemon (batchd serve --help for its "
         "options)\n\n"
         "commands that talk to a running daemon (--server URL or BATCHD_URL, default\n"
         "http://127.0.0.1:8080; --token TOKEN or BATCHD_TOKEN if it needs one):\n" +
         batchd::cli::CommandsHelp() +
         "\nexit codes: 0 done (a watched batch completed), 1 the batch failed, 2 usage,\n"
         "3 the batch was canceled, 4 the daemon refused (invalid, not found, conflict),\n"
         "5 the daemon could not be reached\n\n"
         "  --help                          show this text\n"
         "  --version                       print the version\n";
}

// Blocks the stop signals (and SIGHUP, which reloads the token file) before any thread exists,
// so every thread inherits the mask and only RunServe's sigwait receives them.
void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client closing early is an error code, not a death
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << Usage();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "batchd " << BATCHD_VERSION << "\n";
    return 0;
  }
  if (args[0] != "serve") {
    // A client command (or --server before one). Unknown names are reported there.
    if (batchd::cli::FindCommand(args[0]) != nullptr || args[0].starts_with("--server") ||
        args[0].starts_with("--token")) {
      std::signal(SIGPIPE, SIG_IGN);  // `batchd watch ID | head` ends with an error, not a signal
      return batchd::cli::RunCommand(args);
    }
    std::cerr << "batchd: unknown command '" << args[0] << "'\n\n" << Usage();
    return 2;
  }
  batchd::Result<batchd::daemon::ServeConfig> config =
      batchd::daemon::ParseServeArgs({args.begin() + 1, args.end()});
  if (!config.ok()) {
    std::cerr << "batchd serve: " << config.status().message() << "\n";
    return 2;
  }
  if (config->help) {
    std::cout << batchd::daemon::ServeHelp();
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  batchd::daemon::SetLogFormat(config->log_format);
  BlockStopSignals();
  return batchd::daemon::RunServe(*config);
}
