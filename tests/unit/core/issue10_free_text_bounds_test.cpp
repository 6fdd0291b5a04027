// Issue 10, item 2(d): free text is bounded. A batch name is echoed in every batch.* event and
// batch list (8 MiB names made one page of events 1.28 GB), so it is refused past 1 KiB at
// submit; a spec stored before the bound existed still parses. Error messages the daemon writes
// are cut (BoundedText) without splitting a UTF-8 character.
#include <string>

#include <gtest/gtest.h>

#include "core/batch_spec.h"
#include "core/bounded_text.h"

namespace batchd {
namespace {

std::string Named(const std::string& name) {
  return R"({"name": ")" + name + R"(", "template": {"op": "noop"}})";
}

TEST(BatchNameBoundTest, ANameOverTheBoundIsRefusedAtItsPath) {
  Result<BatchSpec> eight_mib = ParseBatchSpec(Named(std::string(8 << 20, 'n')), {});
  ASSERT_FALSE(eight_mib.ok());
  EXPECT_EQ(eight_mib.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(eight_mib.status().path(), "/name");
  EXPECT_NE(eight_mib.status().message().find("8388608 bytes"), std::string::npos)
      << eight_mib.status().message();
  EXPECT_NE(eight_mib.status().message().find("at most 1024"), std::string::npos);

  Result<BatchSpec> one_over = ParseBatchSpec(Named(std::string(kMaxBatchNameBytes + 1, 'n')), {});
  ASSERT_FALSE(one_over.ok());
  EXPECT_EQ(one_over.status().path(), "/name");
}

TEST(BatchNameBoundTest, TheBoundCountsBytesOfUtf8) {
  // 341 three-byte characters: 1023 bytes, fine; one more makes 1026.
  std::string name;
  for (int i = 0; i < 341; ++i) name += "\xE2\x82\xAC";  // U+20AC
  Result<BatchSpec> fits = ParseBatchSpec(Named(name), {});
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->name, name);
  Result<BatchSpec> over = ParseBatchSpec(Named(name + "\xE2\x82\xAC"), {});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().path(), "/name");
}

TEST(BatchNameBoundTest, StoredSpecsWithLongerNamesStillParse) {
  // Written before names were bounded; the daemon must still run and show their sessions.
  Result<BatchSpec> stored =
      ParseBatchSpec(Named(std::string(1 << 20, 'n')), BatchSpecLimits::Stored());
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->name.size(), size_t{1} << 20);
}

TEST(BoundedTextTest, ShortTextIsUnchanged) {
  EXPECT_EQ(BoundedText("disk on fire", 4096), "disk on fire");
  EXPECT_EQ(BoundedText(std::string(4096, 'x'), 4096), std::string(4096, 'x'));
}

TEST(BoundedTextTest, LongTextIsCutWithANoteAndStaysWithinTheBound) {
  const std::string cut = BoundedText(std::string(1 << 20, 'x'), 4096);
  EXPECT_LE(cut.size(), 4096u);
  EXPECT_GT(cut.size(), 4000u);
  EXPECT_EQ(cut.substr(0, 100), std::string(100, 'x'));
  EXPECT_NE(cut.find(" bytes cut)"), std::string::npos) << cut.substr(cut.size() - 60);
}

TEST(BoundedTextTest, NeverSplitsAMultiByteCharacter) {
  std::string euros;
  for (int i = 0; i < 10'000; ++i) euros += "\xE2\x82\xAC";
  for (size_t bound : {64u, 65u, 66u, 67u, 100u, 4096u}) {
    const std::string cut = BoundedText(euros, bound);
    EXPECT_LE(cut.size(), bound);
    const size_t text = cut.find(" ... (");
    ASSERT_NE(text, std::string::npos);
    EXPECT_EQ(text % 3, 0u) << "cut inside a character at bound " << bound;
  }
  // Below the room for a note, the text alone, still cut at a character boundary.
  const std::string bare = BoundedText(euros, 10);
  EXPECT_EQ(bare, euros.substr(0, 9));
}

}  // namespace
}  // namespace batchd
