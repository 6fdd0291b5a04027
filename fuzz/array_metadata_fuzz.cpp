#include "fuzz/array_metadata_fuzz.h"

#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "memory_chunk_store.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/stores/store_key.h"

namespace batchd::fuzz {
namespace {

using pipeline::ArrayMetadata;

struct Registries {
  Registries() {
    pipeline::RegisterBuiltinCodecs(codecs);
    pipeline::RegisterBuiltinFormats(formats, codecs);
  }
  pipeline::CodecRegistry codecs;
  pipeline::FormatRegistry formats;
};

const Registries& Builtins() {
  static const Registries* registries = new Registries();  // never destroyed: no exit order
  return *registries;
}

pipeline::Bytes ToBytes(const std::string& text) {
  return pipeline::Bytes(text.begin(), text.end());
}

// The codec config as the codec itself spells it, defaults filled in, so that {"id": "zstd"}
// and {"id": "zstd", "level": 1, "checksum": false} compare equal.
nlohmann::json CanonicalCodec(const ArrayMetadata& m) {
  auto codec =
      Builtins().codecs.Create(m.codec, {.element_size = static_cast<size_t>(m.dtype.size)});
  FUZZ_CHECK(codec.ok(), "accepted array with a codec that cannot be built: " +
                             codec.status().ToString() + " " + m.ToJson().dump());
  return (*codec)->ToJson();
}

// Every chunk of the grid is numbered, keyed and clipped the way the pipeline will do it; the
// corners are enough, the arithmetic is per dimension.
void CheckChunkGrid(const ArrayMetadata& m) {
  const std::string described = m.ToJson().dump();
  const std::vector<int64_t> grid = m.GridShape();
  const pipeline::ChunkRegion all = pipeline::ChunkRegion::All(m);
  FUZZ_CHECK(all.size() >= 0, described);
  int64_t expected = 1;
  for (int64_t g : grid) {
    FUZZ_CHECK(g >= 0, described);
    FUZZ_CHECK(!__builtin_mul_overflow(expected, g, &expected), described);
  }
  FUZZ_CHECK(all.size() == expected, described);

  // The region goes into the execution state and comes back at resume.
  Result<pipeline::ChunkRegion> stored = pipeline::ChunkRegion::FromJson(all.ToJson(), m);
  FUZZ_CHECK(stored.ok(), stored.status().ToString() + " " + described);
  FUZZ_CHECK(stored->size() == all.size(), described);
  if (all.size() == 0) return;

  std::vector<int64_t> coords(grid.size()), extent(grid.size());
  for (int64_t chunk : {int64_t{0}, all.size() - 1}) {
    all.CoordsOf(chunk, coords);
    pipeline::ValidExtent(m, coords, extent);
    for (size_t d = 0; d < grid.size(); ++d) {
      FUZZ_CHECK(coords[d] >= 0 && coords[d] < grid[d], described);
      FUZZ_CHECK(extent[d] >= 1 && extent[d] <= m.chunk_shape[d], described);
    }
    const std::string key = m.keys.Key(coords);
    FUZZ_CHECK(pipeline::ValidateStoreKey(key).ok(), "chunk key \"" + key + "\" of " + described);
  }
}

// transcode describes what it writes with ZarrV2ArrayDocument: that document must open as
// zarr v2 to the same array (keys aside: a v2 document has no "c" prefix).
void CheckZarrV2Document(const ArrayMetadata& m) {
  const std::string document = pipeline::ZarrV2ArrayDocument(m);
  pipeline::testing::MemoryChunkStore store("memory://fuzz/written.zarr");
  store.Set(".zarray", ToBytes(document));
  Result<ArrayMetadata> reopened = Builtins().formats.Open(store, {{"format", "zarr2"}});
  FUZZ_CHECK(reopened.ok(), reopened.status().ToString() + "\n" + document);
  FUZZ_CHECK(reopened->shape == m.shape && reopened->chunk_shape == m.chunk_shape &&
                 reopened->dtype == m.dtype && reopened->fill_value == m.fill_value &&
                 reopened->keys.separator == m.keys.separator,
             document + "\nvs " + m.ToJson().dump());
  FUZZ_CHECK(CanonicalCodec(*reopened) == CanonicalCodec(m), document);
}

void CheckAccepted(const ArrayMetadata& m) {
  const std::string described = m.ToJson().dump();
  FUZZ_CHECK(m.Validate().ok(), described);
  FUZZ_CHECK(m.FillElement().ok(), described);
  // The execution state stores the metadata; a resumed session reads it back.
  Result<ArrayMetadata> stored = ArrayMetadata::FromJson(m.ToJson());
  FUZZ_CHECK(stored.ok(), stored.status().ToString() + " " + described);
  FUZZ_CHECK(stored->ToJson() == m.ToJson(), described);
  CanonicalCodec(m);
  CheckChunkGrid(m);
  CheckZarrV2Document(m);
}

}  // namespace

void FuzzArrayMetadata(const char* format, const char* document_key, const uint8_t* data,
                       size_t size) {
  pipeline::testing::MemoryChunkStore store("memory://fuzz/a.zarr");
  store.Set(document_key, pipeline::Bytes(data, data + size));
  Result<ArrayMetadata> opened = Builtins().formats.Open(store, {{"format", format}});
  if (!opened.ok()) {
    // The document exists, so every refusal is "unsupported or malformed" (array_format.h).
    FUZZ_CHECK(opened.status().code() == StatusCode::kInvalidArgument, opened.status().ToString());
    return;
  }
  FUZZ_CHECK(opened->format == format, opened->format);
  CheckAccepted(*opened);
}

}  // namespace batchd::fuzz
