// Fuzzes one chunk codec (pipeline/codecs/codec.h), both its config and its decoder. Built once per
// codec with BATCHD_FUZZ_CODEC naming it ("raw", "lz4", "zstd", "blosc"). An input is laid out
// as follows (fuzz/make_corpus.py writes the seeds this way):
//
//   <config JSON>\n <flags: 1 byte> <decoded size: 3 bytes LE> <encoded chunk>
//
// flags: bits 0-1 the element size (1 << bits), bit 2 "also round-trip the chunk's bytes as
// data" (an extra encode per run, slow at high levels: left for the fuzzer to pick).
//
// The config's "id" is forced to this codec (an unparsable config means the defaults), so the
// fuzzer explores members and values, not other codecs. Checks, for every input:
//  - a config is accepted or refused with kInvalidArgument; an accepted one round-trips (ToJson);
//  - DecodeInto succeeds or fails with kCorrupt naming the codec, and never touches a byte
//    outside its spans: input and output end at an inaccessible page, which also catches
//    overruns inside liblz4, libzstd and libblosc (not instrumented by the sanitizers);
//  - what decodes re-encodes and decodes to the same bytes, and so does the input itself
//    (with flag bit 2).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "guarded_buffer.h"
#include "pipeline/codecs/codec.h"

#ifndef BATCHD_FUZZ_CODEC
#error "BATCHD_FUZZ_CODEC must name the codec under test (fuzz/CMakeLists.txt)"
#endif

namespace batchd::fuzz {
namespace {

using pipeline::ByteView;
using pipeline::Codec;
using pipeline::MutableByteView;
using pipeline::testing::GuardedBuffer;

// Larger decoded sizes only make each run slower; what they exercise (size checks against
// 32-bit fields) is covered by the codecs' unit tests.
constexpr size_t kMaxDecodedBytes = 1 << 20;
// libFuzzer's inputs stay far below this (-max_len); the guarded copies must hold them.
constexpr size_t kMaxInputBytes = 4 << 20;

const pipeline::CodecRegistry& Codecs() {
  static const pipeline::CodecRegistry* registry = [] {
    auto* r = new pipeline::CodecRegistry();  // never destroyed: no exit-order questions
    pipeline::RegisterBuiltinCodecs(*r);
    return r;
  }();
  return *registry;
}

// One mapping each, reused by every run: an mmap per run would dominate the run time.
GuardedBuffer& InputArea() {
  static GuardedBuffer* area = new GuardedBuffer(kMaxInputBytes);
  return *area;
}
GuardedBuffer& OutputArea() {
  static GuardedBuffer* area = new GuardedBuffer(std::max(kMaxDecodedBytes, kMaxInputBytes));
  return *area;
}
GuardedBuffer& SecondOutputArea() {
  static GuardedBuffer* area = new GuardedBuffer(std::max(kMaxDecodedBytes, kMaxInputBytes));
  return *area;
}

struct Input {
  nlohmann::json config;
  size_t element_size = 1;
  bool round_trip_input = false;
  size_t decoded_bytes = 0;
  ByteView encoded;
};

Input Split(const uint8_t* data, size_t size) {
  Input in;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t newline = std::min(text.find('\n'), text.size());
  in.config = nlohmann::json::parse(text.substr(0, newline), nullptr, /*allow_exceptions=*/false);
  if (!in.config.is_object()) in.config = nlohmann::json::object();
  in.config["id"] = BATCHD_FUZZ_CODEC;
  const uint8_t* rest = data + std::min(newline + 1, size);
  const size_t rest_size = size - static_cast<size_t>(rest - data);
  if (rest_size >= 1) {
    in.element_size = size_t{1} << (rest[0] & 3);
    in.round_trip_input = (rest[0] & 4) != 0;
  }
  if (rest_size >= 4) {
    const size_t declared = size_t{rest[1]} | size_t{rest[2]} << 8 | size_t{rest[3]} << 16;
    in.decoded_bytes = declared % (kMaxDecodedBytes + 1);
  }
  if (rest_size > 4) in.encoded = ByteView(rest + 4, rest_size - 4);
  return in;
}

bool Equal(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Encodes `plain`, decodes the result into a guarded span of the same size, and compares.
void CheckRoundTrip(const Codec& codec, ByteView plain, const std::string& config) {
  pipeline::Bytes encoded;
  const Status encode = codec.Encode(plain, encoded);
  FUZZ_CHECK(encode.ok(), encode.ToString() + " " + config);
  const ByteView placed = InputArea().Place(encoded);
  MutableByteView out = SecondOutputArea().Tail(plain.size());
  const Status decode = codec.DecodeInto(placed, out);
  FUZZ_CHECK(decode.ok(),
             decode.ToString() + " " + config + ", " + std::to_string(plain.size()) + " bytes");
  FUZZ_CHECK(Equal(out, plain), "round trip changed the bytes, " + config);
}

}  // namespace
}  // namespace batchd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchd;
  using namespace batchd::fuzz;
  if (size > kMaxInputBytes) return 0;
  Input in = Split(data, size);
  const pipeline::CodecContext context{.element_size = in.element_size};
  Result<std::unique_ptr<const pipeline::Codec>> made = Codecs().Create(in.config, context);
  if (!made.ok()) {
    FUZZ_CHECK(made.status().code() == StatusCode::kInvalidArgument, made.status().ToString());
    return 0;
  }
  const pipeline::Codec& codec = **made;
  const std::string config = codec.ToJson().dump();
  Result<std::unique_ptr<const pipeline::Codec>> again = Codecs().Create(codec.ToJson(), context);
  FUZZ_CHECK(again.ok() && (*again)->ToJson() == codec.ToJson(), config);

  // The chunk as a store would hand it over, and an output span of the size the array needs.
  const pipeline::ByteView encoded = InputArea().Place(in.encoded);
  pipeline::MutableByteView out = OutputArea().Tail(in.decoded_bytes);
  const Status decoded = codec.DecodeInto(encoded, out);
  if (decoded.ok()) {
    // Copy first: CheckRoundTrip reuses the input area.
    const pipeline::Bytes plain(out.begin(), out.end());
    CheckRoundTrip(codec, plain, config);
  } else {
    FUZZ_CHECK(decoded.code() == StatusCode::kCorrupt, decoded.ToString());
    FUZZ_CHECK(decoded.message().starts_with(std::string(BATCHD_FUZZ_CODEC) + ": "),
               decoded.ToString());
  }
  // The fuzzer's bytes as chunk contents: every codec must carry any bytes through unchanged.
  if (in.round_trip_input) CheckRoundTrip(codec, in.encoded, config);
  return 0;
}
