#include "core/bounded_text.h"

namespace batchd {
namespace {

// Room kept for the note: " ... (" + up to 20 digits + " bytes cut)".
constexpr size_t kNoteRoom = 40;

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::string BoundedText(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  const bool noted = max_bytes >= 64;
  size_t keep = noted ? max_bytes - kNoteRoom : max_bytes;
  // Back up to the first byte of the character at `keep`, which is then cut whole.
  while (keep > 0 && IsContinuationByte(text[keep])) --keep;
  const size_t cut = text.size() - keep;
  text.resize(keep);
  if (noted) text += " ... (" + std::to_string(cut) + " bytes cut)";
  return text;
}

}  // namespace batchd
