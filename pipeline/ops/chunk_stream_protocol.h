// The chunk stream of a `command` job with a "source" (docs/command.md, "Chunk streaming"):
// what batchd writes to the program's stdin and how the program's stdout is read back, and how
// per-chunk results fold. No I/O here: the op (command_stream_op.cpp) moves the bytes.
//
// To the program: a hello line, then per chunk one JSON header line and `bytes` raw
// little-endian bytes, then an end line. From the program, per chunk in the order sent: one
// JSON answer line, followed by `bytes` raw bytes when it carries an output chunk.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/bytes.h"

namespace batchd::pipeline {

// An answer line (its '\n' included) may be at most this long.
constexpr size_t kMaxAnswerLineBytes = 64 << 10;
// A session folds at most this many distinct result members.
constexpr size_t kMaxResultMembers = 1024;

// {"batchd":"chunks","version":1,...}\n: the first line the program reads.
std::string StreamHelloLine(const nlohmann::json& array, const nlohmann::json& sink);
// {"key":"0.1","coords":[0,1],"shape":[10,20],"dtype":"<f4","bytes":800,"missing":false}\n
std::string ChunkHeaderLine(const std::string& key, std::span<const int64_t> coords,
                            std::span<const int64_t> shape, const std::string& dtype,
                            uint64_t bytes, bool missing);
// {"end":true}\n: no chunk follows; stdin closes after it.
std::string StreamEndLine();

// One answer, checked against the chunk it answers.
struct ChunkAnswer {
  nlohmann::json result;  // an object (possibly empty): the members to fold
  bool has_output = false;
  uint64_t output_bytes = 0;  // has_output: how many raw bytes follow the line
};

// Reads one answer line (without its '\n') for the chunk `key`. `output_bytes` is the size an
// output chunk must have, or nullopt when the job has no sink (then an output is refused).
// kInvalidArgument saying what is wrong: not JSON, another key, an "error" the program
// reported, a wrong byte count, a result that is not an object of numbers.
Result<ChunkAnswer> ParseAnswerLine(std::string_view line, const std::string& key,
                                    std::optional<uint64_t> output_bytes);

// Splits the program's stdout into answer lines and the raw bytes after them. Feed it bytes as
// they come; `on_line` gets each line (without '\n') and says how many raw bytes follow it;
// `on_payload` gets those bytes once all have come. An error from either, or a line longer
// than kMaxAnswerLineBytes, stops the stream: Feed returns it now and at every later call.
class AnswerReader {
 public:
  using OnLine = std::function<Result<uint64_t>(std::string_view line)>;
  using OnPayload = std::function<Status(Bytes payload)>;

  AnswerReader(OnLine on_line, OnPayload on_payload)
      : on_line_(std::move(on_line)), on_payload_(std::move(on_payload)) {}

  Status Feed(std::string_view bytes);
  // True while a line or a payload has begun but not ended (the program stopped mid-answer).
  bool InTheMiddle() const { return !line_.empty() || payload_left_ > 0; }

 private:
  OnLine on_line_;
  OnPayload on_payload_;
  std::string line_;
  Bytes payload_;
  uint64_t payload_left_ = 0;
  Status error_;
};

// How the members of chunk results fold into a session's result and a batch's: the job's
// "reduce" names a reduction per member ("sum", "min", "max", "count"); members it does not
// name are summed. Sums are doubles (exact for integers up to 2^53).
class ResultFold {
 public:
  // `reduce`: null or an object of member -> reduction. kInvalidArgument naming the member.
  static Result<ResultFold> Create(const nlohmann::json& reduce);
  // The submit-time check of "/reduce".
  static Status CheckReduce(const nlohmann::json& reduce);

  // Whether `result` (an answer's "result" object) may be folded: numbers for every member not
  // counted, and no more than kMaxResultMembers members in all.
  Status Check(const nlohmann::json& result) const;
  // Adds one chunk's result (checked).
  void Add(const nlohmann::json& result);
  // Folds another fold of the same reductions (a session's into a batch's).
  void Merge(const ResultFold& other);

  // {"values": {...}, "reduce": {...}}: folded members and their reductions; back with
  // FromJson, which checks it.
  nlohmann::json ToJson() const;
  static Result<ResultFold> FromJson(const nlohmann::json& json);
  const nlohmann::json& values() const { return values_; }

 private:
  std::string ReductionOf(const std::string& member) const;

  std::map<std::string, std::string> reduce_;  // member -> sum|min|max|count
  nlohmann::json values_ = nlohmann::json::object();
};

}  // namespace batchd::pipeline
