// Regression (found by fuzz/batch_spec_fuzzer): a body that stops being JSON at a byte that is
// not UTF-8 got a kMalformed message quoting that byte raw, from nlohmann's "last read: ...".
// The API sends messages back inside a JSON body, and dumping it threw on the worker thread,
// which ended the daemon. Messages are now valid UTF-8 whatever the body holds.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/batch_spec.h"

namespace batchd {
namespace {

void ExpectUtf8MalformedMessage(const std::string& body) {
  Result<BatchSpec> spec = ParseBatchSpec(body, BatchSpecLimits{});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kMalformed) << spec.status().ToString();
  const nlohmann::json message = spec.status().message();
  // strict: throws on any byte sequence that is not UTF-8.
  EXPECT_NO_THROW(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict));
  // The position is still there for the client.
  EXPECT_NE(spec.status().message().find("line 1"), std::string::npos) << spec.status().message();
}

TEST(IssueParseErrorUtf8Test, StrayByteAfterAValue) {
  ExpectUtf8MalformedMessage("{\"template\": {\"a\": [0, 10]\x9e}}");
}

TEST(IssueParseErrorUtf8Test, TruncatedMultiByteCharacterInAString) {
  ExpectUtf8MalformedMessage("{\"name\": \"caf\xc3\"}");
}

TEST(IssueParseErrorUtf8Test, InvalidByteAsTheFirstToken) {
  ExpectUtf8MalformedMessage("\xff\xfe{}");
}

}  // namespace
}  // namespace batchd
