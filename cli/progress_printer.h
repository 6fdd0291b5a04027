// Prints a watched batch's progress: one redrawn line on a terminal, one line per change
// otherwise (batch_view.h renders them).
#pragma once

#include <string>

#include "cli/batch_view.h"
#include "cli/command_context.h"

namespace batchd::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(CommandContext& ctx) : ctx_(ctx) {}
  ~ProgressPrinter();  // ends a redrawn line

  // The batch as it is now.
  void Show(const BatchView& view);
  // A line of its own (an error of a session, a reconnect), above the redrawn bar.
  void Note(const std::string& text);
  // The last state and the summary line.
  void Finish(const BatchView& view);

 private:
  void ClearBar();

  CommandContext& ctx_;
  std::string last_plain_;
  std::string bar_;  // what is drawn on the terminal's current line
};

}  // namespace batchd::cli
