#include "cli/progress_printer.h"

namespace batchd::cli {

ProgressPrinter::~ProgressPrinter() {
  if (!bar_.empty()) ctx_.out << "\n" << std::flush;
}

void ProgressPrinter::ClearBar() {
  if (bar_.empty()) return;
  ctx_.out << "\r\x1b[K";  // to the start of the line, then clear it
  bar_.clear();
}

void ProgressPrinter::Show(const BatchView& view) {
  if (ctx_.interactive) {
    const std::string line = BarLine(view, ctx_.terminal_width - 1);
    if (line == bar_) return;
    ctx_.out << "\r\x1b[K" << line << std::flush;
    bar_ = line;
    return;
  }
  const std::string line = PlainLine(view);
  if (line == last_plain_) return;
  ctx_.out << line << "\n" << std::flush;
  last_plain_ = line;
}

void ProgressPrinter::Note(const std::string& text) {
  const std::string bar = bar_;
  ClearBar();
  ctx_.out << text << "\n";
  if (!bar.empty()) {
    ctx_.out << bar;
    bar_ = bar;
  }
  ctx_.out << std::flush;
}

void ProgressPrinter::Finish(const BatchView& view) {
  Show(view);
  if (!bar_.empty()) {
    ctx_.out << "\n";
    bar_.clear();
  }
  ctx_.out << Summary(view) << "\n" << std::flush;
}

}  // namespace batchd::cli
