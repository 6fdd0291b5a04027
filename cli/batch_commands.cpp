// The subcommands about batches: submit, watch, ls, show, results, cancel, pause, resume, retry.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/batch_view.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/session_errors.h"
#include "cli/watch.h"

namespace batchd::cli {
namespace {

using nlohmann::json;

// A command's arguments: positionals, `--name VALUE` options and `--flag` switches.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
};

// Splits `args`; false (with the reason printed) on an unknown option or a missing value.
bool ParseArgs(CommandContext& ctx, const std::string& command,
               const std::vector<std::string>& args, const std::set<std::string>& value_options,
               const std::set<std::string>& switches, size_t positionals, Args* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.starts_with("--") && a.size() > 2) {
      const size_t eq = a.find('=');
      const std::string name = a.substr(0, eq);
      if (switches.count(name) && eq == std::string::npos) {
        out->flags.insert(name);
      } else if (value_options.count(name)) {
        if (eq != std::string::npos) {
          out->values[name] = a.substr(eq + 1);
        } else if (i + 1 < args.size()) {
          out->values[name] = args[++i];
        } else {
          ctx.err << "batchd " << command << ": " << name << " needs a value\n";
          return false;
        }
      } else {
        ctx.err << "batchd " << command << ": unknown option '" << a << "'\n";
        return false;
      }
    } else {
      out->positional.push_back(a);
    }
  }
  if (out->positional.size() != positionals) {
    ctx.err << "batchd " << command << ": expected " << positionals << " argument"
            << (positionals == 1 ? "" : "s") << ", got " << out->positional.size()
            << " (batchd --help)\n";
    return false;
  }
  return true;
}

bool ReadInput(CommandContext& ctx, const std::string& path, std::string* out) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    *out = text.str();
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ctx.err << "batchd submit: cannot read " << path << "\n";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

std::string CountsText(const json& b) {
  const BatchView v = BatchView::FromBatch(b);
  return std::to_string(v.Done()) + "/" + std::to_string(v.sessions) + " done, " +
         std::to_string(v.completed) + " completed, " + std::to_string(v.error) + " error, " +
         std::to_string(v.canceled) + " canceled, " + std::to_string(v.in_progress) + " running";
}

int Submit(CommandContext& ctx, const std::vector<std::string>& raw) {
  Args args;
  if (!ParseArgs(ctx, "submit", raw, {}, {"--watch"}, 1, &args)) return kExitUsage;
  std::string body;
  if (!ReadInput(ctx, args.positional[0], &body)) return kExitUsage;
  Result<json> created = RequestJson(ctx, "POST", "/api/v1/batches", body);
  if (!created.ok())
    return ReportFailure(ctx, "submitting " + args.positional[0], created.status());
  const std::string id = created->value("id", "");
  // The id alone on stdout, so that `ID=$(batchd submit f.json)` works; the rest for people.
  ctx.out << id << "\n" << std::flush;
  ctx.err << "batchd: submitted batch " << id << " with " << created->value("sessions", 0)
          << " sessions\n";
  if (!args.flags.count("--watch")) return kExitOk;
  return WatchBatch(ctx, id);
}

int Watch(CommandContext& ctx, const std::vector<std::string>& raw) {
  Args args;
  if (!ParseArgs(ctx, "watch", raw, {}, {}, 1, &args)) return kExitUsage;
  return WatchBatch(ctx, args.positional[0]);
}

int List(CommandContext& ctx, const std::vector<std::string>& raw) {
  Args args;
  if (!ParseArgs(ctx, "ls", raw, {"--state", "--limit"}, {"--json"}, 0, &args)) return kExitUsage;
  std::string target =
      "/api/v1/batches?limit=" + (args.values.count("--limit") ? args.values["--limit"] : "50");
  if (args.values.count("--state")) target += "&state=" + args.values["--state"];
  Result<json> page = RequestJson(ctx, "GET", target);
  if (!page.ok()) return ReportFailure(ctx, "listing batches", page.status());
  if (args.flags.count("--json")) {
    ctx.out << page->dump(2) << "\n";
    return kExitOk;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-16s  %-10s  %6s  %10s  %10s  %8s  %8s  %-24s  %s\n", "ID",
                "STATE", "DONE", "SESSIONS", "COMPLETED", "ERROR", "CANCELED", "CREATED", "NAME");
  ctx.out << line;
  for (const json& b : (*page)["items"]) {
    const BatchView v = BatchView::FromBatch(b);
    const double pct = v.sessions > 0 ? 100.0 * static_cast<double>(v.Done()) / v.sessions : 100;
    std::snprintf(
        line, sizeof line, "%-16s  %-10s  %5.1f%%  %10lld  %10lld  %8lld  %8lld  %-24s  %s\n",
        v.id.c_str(), v.state.c_str(), pct, static_cast<long long>(v.sessions),
        static_cast<long long>(v.completed), static_cast<long long>(v.error),
        static_cast<long long>(v.canceled), b.value("created_at", "").c_str(), v.name.c_str());
    ctx.out << line;
  }
  if (!(*page)["next_cursor"].is_null()) {
    ctx.out << "(more: batchd ls --limit N, or GET /api/v1/batches?cursor="
            << (*page)["next_cursor"].get<std::string>() << ")\n";
  }
  return kExitOk;
}

int Show(CommandContext& ctx, const std::vector<std::string>& raw) {
  Args args;
  if (!ParseArgs(ctx, "show", raw, {}, {"--json"}, 1, &args)) return kExitUsage;
  const std::string id = args.positional[0];
  Result<json> batch = RequestJson(ctx, "GET", "/api/v1/batches/" + id);
  if (!batch.ok()) return ReportFailure(ctx, "showing " + id, batch.status());
  if (args.flags.count("--json")) {
    ctx.out << batch->dump(2) << "\n";
    return kExitOk;
  }
  const BatchView v = BatchView::FromBatch(*batch);
  ctx.out << "batch     " << v.id << "\n"
          << "name      " << v.name << "\n"
          << "state     " << v.state << "\n"
          << "priority  " << batch->value("priority", 0) << "\n"
          << "sessions  " << CountsText(*batch) << "\n"
          << "created   " << batch->value("created_at", "") << "\n"
          << "finished  "
          << ((*batch)["finished_at"].is_null() ? "-" : (*batch)["finished_at"].get<std::string>())
          << "\n";
  if (v.error > 0) {
    // The first few errors in plain words; the rest are a query away.
    Result<std::vector<SessionError>> failed = FirstSessionErrors(ctx, id, 5);
    if (failed.ok()) {
      ctx.out << "errors:\n";
      for (const SessionError& e : *failed) {
        ctx.out << "  session " << e.session << " (attempt " << e.attempts << ") "
                << (e.kind.empty() ? e.message : e.kind + ": " + e.message) << "\n";
      }
      if (v.error > 5) {
        ctx.out << "  ... " << v.error - 5 << " more: GET /api/v1/batches/" << id
                << "/sessions?state=error\n";
      }
    }
  }
  return kExitOk;
}

// GET /api/v1/batches/{id}/results, written to stdout as it arrives (any size, constant memory).
int Results(CommandContext& ctx, const std::vector<std::string>& raw) {
  Args args;
  if (!ParseArgs(ctx, "results", raw, {"--format"}, {}, 1, &args)) return kExitUsage;
  const std::string format = args.values.count("--format") ? args.values["--format"] : "jsonl";
  if (format != "jsonl" && format != "csv") {
    ctx.err << "batchd results: --format must be jsonl or csv, got '" << format << "'\n";
    return kExitUsage;
  }
  const std::string id = args.positional[0];
  Result<HttpResult> r = ctx.daemon.Download(
      "/api/v1/batches/" + id + "/results?format=" + format,
      [&](std::string_view piece) { ctx.out.write(piece.data(), piece.size()); });
  ctx.out.flush();
  if (!r.ok()) return ReportFailure(ctx, "exporting " + id, r.status());
  if (r->status < 200 || r->status > 299) {
    return ReportFailure(ctx, "exporting " + id,
                         Status::FailedPrecondition(DescribeErrorBody(r->status, r->body)));
  }
  return kExitOk;
}

// cancel, pause, resume, retry: POST /api/v1/batches/{id}/<action>.
Command Lifecycle(const std::string& action, const std::string& summary) {
  return {
      action, "ID", summary, [action](CommandContext& ctx, const std::vector<std::string>& raw) {
        Args args;
        if (!ParseArgs(ctx, action, raw, {}, {}, 1, &args)) return kExitUsage;
        const std::string id = args.positional[0];
        Result<json> batch = RequestJson(ctx, "POST", "/api/v1/batches/" + id + "/" + action);
        if (!batch.ok()) return ReportFailure(ctx, action + " " + id, batch.status());
        ctx.out << id << " " << batch->value("state", "") << " (" << CountsText(*batch) << ")\n";
        return kExitOk;
      }};
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"submit", "FILE [--watch]",
       "submit the batch in FILE (- for stdin); print its id; --watch follows it", Submit},
      {"watch", "ID", "follow a batch until it finishes (exit 0 only if it completed)", Watch},
      {"ls", "[--state S] [--limit N] [--json]", "list batches, newest first", List},
      {"show", "ID [--json]", "a batch's state, counters and first errors", Show},
      {"results", "ID [--format jsonl|csv]",
       "every session's index, values, state, result and error, to stdout (default jsonl)",
       Results},
      Lifecycle("cancel", "cancel a batch (running sessions are stopped)"),
      Lifecycle("pause", "stop starting a batch's sessions"),
      Lifecycle("resume", "start them again"),
      Lifecycle("retry", "run a batch's failed and canceled sessions again"),
      LogsCommand(),
      NodesCommand(),
  };
  return kCommands;
}

}  // namespace batchd::cli
