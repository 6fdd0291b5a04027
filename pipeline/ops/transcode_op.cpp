// {"op": "transcode", "source": {...}, "region": ..., "sink": {"url": "file:///out/a.zarr",
//  "codec": {"id": "zstd", "level": 3} | null, "separator": "." | "/"}}: decodes every chunk of
// the region and writes it re-encoded with sink.codec to a zarr v2 array at sink.url, with the
// source's shape, chunks, dtype (byte order included) and fill value. The `.zarray` is written
// last, in Finish, so a reader never sees metadata for chunks that are not there yet. Several
// sessions may write disjoint regions of one sink: their `.zarray` documents are identical.
// The source's user attributes (zarr v2 `.zattrs`, zarr v3 `attributes`: xarray's
// `_ARRAY_DIMENSIONS`, units, ...) are read at Prepare and written to the sink's `.zattrs`, just
// before its `.zarray`. Missing source chunks are not written (they read as the fill value in the
// sink too), so the sink should be empty or hold an earlier transcode of the same source.
#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/zarr_sink.h"

namespace batchd::pipeline {
namespace {

struct Written final : ChunkContribution {
  bool wrote = false;
};

class TranscodeConsumer final : public ChunkConsumer {
 public:
  TranscodeConsumer(std::shared_ptr<ChunkStore> sink, std::shared_ptr<const Codec> codec,
                    ArrayMetadata sink_array, nlohmann::json attributes)
      : sink_(std::move(sink)),
        codec_(std::move(codec)),
        sink_array_(std::move(sink_array)),
        attributes_(std::move(attributes)) {}

  // The sink keeps the source's byte order, so chunks are re-encoded exactly as stored.
  bool NativeByteOrder() const override { return false; }

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    if (chunk.missing) return done(std::unique_ptr<ChunkContribution>(std::make_unique<Written>()));
    Bytes encoded;
    if (Status s = codec_->Encode(chunk.data, encoded); !s.ok()) return done(s);
    sink_->Put(sink_array_.keys.Key(chunk.coords), std::move(encoded),
               [done = std::move(done)](Status s) {
                 if (!s.ok()) return done(Status(s.code(), "writing to the sink: " + s.message()));
                 auto w = std::make_unique<Written>();
                 w->wrote = true;
                 done(std::unique_ptr<ChunkContribution>(std::move(w)));
               });
  }

  void Fold(int64_t, ChunkContribution& c) override {
    if (static_cast<Written&>(c).wrote) ++chunks_written_;
  }

  nlohmann::json SaveState() const override { return {{"chunks_written", chunks_written_}}; }

  Status RestoreState(const nlohmann::json& state) override {
    chunks_written_ = state.value("chunks_written", int64_t{0});
    return Status::Ok();
  }

  void Finish(FinishDone done) override {
    if (!attributes_.is_object()) return WriteArrayDocument(std::move(done));
    const std::string attrs = attributes_.dump();
    sink_->Put(".zattrs", Bytes(attrs.begin(), attrs.end()),
               [this, done = std::move(done), url = sink_->url()](Status s) mutable {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/.zattrs: " + s.message()));
                 WriteArrayDocument(std::move(done));
               });
  }

 private:
  void WriteArrayDocument(FinishDone done) {
    const std::string doc = ZarrV2ArrayDocument(sink_array_);
    Bytes bytes(doc.begin(), doc.end());
    sink_->Put(".zarray", std::move(bytes),
               [done = std::move(done), url = sink_->url(), written = chunks_written_](Status s) {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/.zarray: " + s.message()));
                 done(nlohmann::json{{"sink", url}, {"chunks_written", written}});
               });
  }

  const std::shared_ptr<ChunkStore> sink_;
  const std::shared_ptr<const Codec> codec_;
  const ArrayMetadata sink_array_;
  const nlohmann::json attributes_;  // an object, or null for none
  int64_t chunks_written_ = 0;       // guarded by the pipeline's lock
};

class TranscodeOp final : public ChunkOp {
 public:
  using ChunkOp::ChunkOp;

  std::vector<std::string> SubmitCheckedMembers() const override {
    std::vector<std::string> members = ChunkOp::SubmitCheckedMembers();
    members.push_back("/sink/url");
    return members;
  }

 protected:
  Result<nlohmann::json> PrepareOp(const nlohmann::json& job,
                                   const ArrayMetadata& array) const override {
    auto sink = job.find("sink");
    if (sink == job.end() || !sink->is_object() || !sink->contains("url") ||
        !(*sink)["url"].is_string()) {
      return Status::InvalidArgument(
          "transcode needs \"sink\": {\"url\": \"file:///...\", \"codec\": {...}}", "/sink");
    }
    const std::string url = (*sink)["url"].get<std::string>();
    Result<std::shared_ptr<ChunkStore>> store = services_.stores.Open(url);
    if (!store.ok()) return Status(store.status().code(), store.status().message(), "/sink/url");
    (*store)->LimitValueBytes(ChunkServices::kMaxMetadataBytes);  // it reads the sink's .zarray

    const nlohmann::json codec_config = sink->value("codec", nlohmann::json());
    Result<std::unique_ptr<const Codec>> codec = services_.codecs.Create(
        codec_config.is_null() ? nlohmann::json{{"id", "raw"}} : codec_config,
        {.element_size = static_cast<size_t>(array.dtype.size)});
    if (!codec.ok()) return Status::InvalidArgument(codec.status().message(), "/sink/codec");

    const std::string separator = sink->value("separator", std::string("."));
    if (separator != "." && separator != "/") {
      return Status::InvalidArgument("\"separator\" must be \".\" or \"/\"", "/sink/separator");
    }
    ArrayMetadata out = array;
    out.format = "zarr2";
    out.codec = (*codec)->ToJson();
    out.filters = nlohmann::json::array();  // the sink holds the decoded elements, in C order
    out.outer_codecs = nlohmann::json::array();
    out.shards.reset();  // a sharded source's inner chunks become the sink's chunks
    if (out.codec.value("id", std::string()) == "crc32c") {
      return Status::InvalidArgument(
          "crc32c is a zarr v3 checksum codec; a zarr v2 sink's compressor cannot be it",
          "/sink/codec");
    }
    out.keys = {.prefix = "", .separator = separator[0]};
    out.fill_value = FillValueForZarrV2(array);
    RETURN_IF_ERROR(CheckSinkIsCompatible(**store, out, "transcode"));
    ASSIGN_OR_RETURN(nlohmann::json attributes, SourceAttributes(job, array));
    return nlohmann::json{
        {"sink", {{"url", url}, {"array", out.ToJson()}, {"attributes", attributes}}}};
  }

  Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json& op,
                                                      const ArrayMetadata&,
                                                      bool resumed) const override {
    const nlohmann::json sink = op.value("sink", nlohmann::json());
    ASSIGN_OR_RETURN(ArrayMetadata out,
                     ArrayMetadata::FromJson(sink.value("array", nlohmann::json())));
    ASSIGN_OR_RETURN(std::shared_ptr<ChunkStore> store,
                     services_.stores.Open(sink.value("url", std::string())));
    if (resumed) {
      // An interrupted run may have died in the middle of a put: its temp file is not a chunk
      // (puts are atomic), but it must not stay behind in the user's array.
      RETURN_IF_ERROR(store->RemoveStaleTempFiles().status());
    }
    ASSIGN_OR_RETURN(
        std::unique_ptr<const Codec> codec,
        services_.codecs.Create(out.codec, {.element_size = static_cast<size_t>(out.dtype.size)}));
    return std::unique_ptr<ChunkConsumer>(std::make_unique<TranscodeConsumer>(
        std::move(store), std::shared_ptr<const Codec>(std::move(codec)), std::move(out),
        sink.value("attributes", nlohmann::json())));
  }

 private:
  // The source array's user attributes: its .zattrs (zarr v2) or zarr.json's "attributes"
  // (zarr v3), null when it has none (or is raw). A .zattrs that is not a JSON object is an
  // error naming it, rather than attributes silently lost.
  Result<nlohmann::json> SourceAttributes(const nlohmann::json& job,
                                          const ArrayMetadata& array) const {
    if (array.format != "zarr2" && array.format != "zarr3") return nlohmann::json();
    const std::string url = job.at("source").at("url").get<std::string>();
    ASSIGN_OR_RETURN(std::shared_ptr<ChunkStore> source, services_.stores.Open(url));
    source->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
    const std::string key = array.format == "zarr2" ? ".zattrs" : "zarr.json";
    ASSIGN_OR_RETURN(std::optional<Bytes> bytes, ReadKey(*source, key));
    if (!bytes) return nlohmann::json();
    nlohmann::json doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (array.format == "zarr3" && doc.is_object()) {
      doc = doc.value("attributes", nlohmann::json());
      if (doc.is_null()) return doc;
    }
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument(url + "/" + key + ": the attributes are not a JSON object",
                                     "/source/url");
    }
    return doc;
  }
};

}  // namespace

std::unique_ptr<Op> MakeTranscodeOp(const ChunkServices& services) {
  return std::make_unique<TranscodeOp>(services);
}

}  // namespace batchd::pipeline
