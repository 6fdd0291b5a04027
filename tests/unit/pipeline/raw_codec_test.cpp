// The raw codec takes any bytes of the right length. Issue 10, item 5: a raw read of whatever a
// URL answers must not tell the client that answer's exact size in its error.
#include <gtest/gtest.h>

#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

TEST(RawCodecTest, AWrongSizeIsCorruptWithoutTheStoredValuesOwnSize) {
  CodecRegistry registry;
  RegisterBuiltinCodecs(registry);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<const Codec> raw, registry.Create({{"id", "raw"}}, {}));
  Bytes out(4096);
  const Bytes shorter(1234, 7), longer(5678, 7);
  Status s = raw->DecodeInto(shorter, out);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.message(), "raw: the stored value is shorter than the 4096 bytes the chunk needs");
  s = raw->DecodeInto(longer, out);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.message(), "raw: the stored value is longer than the 4096 bytes the chunk needs");
  const Bytes exact(4096, 7);
  ASSERT_OK(raw->DecodeInto(exact, out));
  EXPECT_TRUE(out == exact);
}

}  // namespace
}  // namespace batchd::pipeline
