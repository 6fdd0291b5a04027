// SigV4 against AWS's published examples: the signature test suite (service "service", no
// x-amz-content-sha256) and the S3 API reference's header-signing examples. The expected
// signatures are AWS's; a single wrong byte in the canonical request changes them.
#include "pipeline/stores/s3/sigv4_signer.h"

#include <gtest/gtest.h>

namespace batchd::pipeline {
namespace {

const std::string kEmptySha256 = Sha256Hex(std::string_view());

// The test suite's fixed inputs.
constexpr const char* kSuiteDate = "20150830T123600Z";
const SigV4Credentials kSuiteKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const SigV4Scope kSuiteScope{
    .region = "us-east-1", .service = "service", .content_sha256_header = false};

SigV4Request SuiteRequest(std::string method, std::string path, HeaderList query = {},
                          HeaderList extra_headers = {}) {
  SigV4Request r{.method = std::move(method),
                 .path = std::move(path),
                 .query = std::move(query),
                 .headers = {{"Host", "example.amazonaws.com"}},
                 .payload_sha256 = kEmptySha256};
  for (auto& h : extra_headers) r.headers.push_back(std::move(h));
  return r;
}

std::string SuiteSignature(const SigV4Request& request, const SigV4Credentials& keys = kSuiteKeys) {
  return SignV4(request, keys, kSuiteScope, kSuiteDate).signature;
}

// The S3 reference's examples: examplebucket, 24 May 2013.
constexpr const char* kS3Date = "20130524T000000Z";
const SigV4Credentials kS3Keys{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                               ""};
const SigV4Scope kS3Scope{.region = "us-east-1", .service = "s3"};

SigV4Request S3Example(std::string method, std::string path, HeaderList query = {}) {
  return {.method = std::move(method),
          .path = std::move(path),
          .query = std::move(query),
          .headers = {{"Host", "examplebucket.s3.amazonaws.com"}},
          .payload_sha256 = kEmptySha256};
}

std::string HeaderValue(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<none>";
}

TEST(SigV4SuiteTest, GetVanilla) {
  SigV4Signature s = SignV4(SuiteRequest("GET", "/"), kSuiteKeys, kSuiteScope, kSuiteDate);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                kEmptySha256);
  EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(HeaderValue(s.headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(HeaderValue(s.headers, "x-amz-date"), kSuiteDate);
  EXPECT_EQ(HeaderValue(s.headers, "x-amz-content-sha256"), "<none>");
}

TEST(SigV4SuiteTest, QueryParametersAreSortedByName) {
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}})),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "/", {{"Param1", "value1"}})),
            "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
}

TEST(SigV4SuiteTest, UnreservedQueryCharactersStayUnencoded) {
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "/", {{unreserved, unreserved}})),
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

TEST(SigV4SuiteTest, PathsAreEncodedOnceAndNotNormalized) {
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "/\xE1\x88\xB4")),  // U+1234
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "/example space/")),
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
  // S3 keeps "//": the suite's unnormalized variant.
  EXPECT_EQ(SuiteSignature(SuiteRequest("GET", "//example//")),
            "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5");
}

TEST(SigV4SuiteTest, HeaderValuesAreTrimmedAndInnerSpacesCollapsed) {
  SigV4Request r =
      SuiteRequest("GET", "/", {}, {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}});
  SigV4Signature s = SignV4(r, kSuiteKeys, kSuiteScope, kSuiteDate);
  EXPECT_NE(s.canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n"),
            std::string::npos)
      << s.canonical_request;
  EXPECT_EQ(s.signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST(SigV4SuiteTest, PostVanillaAndQuery) {
  EXPECT_EQ(SuiteSignature(SuiteRequest("POST", "/")),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  EXPECT_EQ(SuiteSignature(SuiteRequest("POST", "/", {{"Param1", "value1"}})),
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(SigV4SuiteTest, SessionTokenIsASignedHeader) {
  SigV4Credentials keys = kSuiteKeys;
  keys.session_token =
      "AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwth"
      "Ax"
      "7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlR"
      "d8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9"
      "KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  SigV4Signature s = SignV4(SuiteRequest("POST", "/"), keys, kSuiteScope, kSuiteDate);
  EXPECT_EQ(s.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
  EXPECT_EQ(HeaderValue(s.headers, "x-amz-security-token"), keys.session_token);
  EXPECT_NE(HeaderValue(s.headers, "Authorization")
                .find("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            std::string::npos);
}

TEST(SigV4S3ExampleTest, GetObjectWithRange) {
  SigV4Request r = S3Example("GET", "/test.txt");
  r.headers.emplace_back("Range", "bytes=0-9");
  SigV4Signature s = SignV4(r, kS3Keys, kS3Scope, kS3Date);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(s.headers, "x-amz-content-sha256"), kEmptySha256);
  EXPECT_NE(HeaderValue(s.headers, "Authorization")
                .find("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"),
            std::string::npos);
}

TEST(SigV4S3ExampleTest, PutObjectSignsThePayloadHashAndEncodesTheKey) {
  const std::string body = "Welcome to Amazon S3.";
  SigV4Request r = S3Example("PUT", "/test$file.text");
  r.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  r.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  r.payload_sha256 = Sha256Hex(std::string_view(body));
  EXPECT_EQ(r.payload_sha256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Signature s = SignV4(r, kS3Keys, kS3Scope, kS3Date);
  EXPECT_EQ(s.canonical_request.substr(0, 22), "PUT\n/test%24file.text\n");
  EXPECT_EQ(s.string_to_sign.substr(s.string_to_sign.rfind('\n') + 1),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4S3ExampleTest, BucketQueriesWithAndWithoutValues) {
  EXPECT_EQ(
      SignV4(S3Example("GET", "/", {{"lifecycle", ""}}), kS3Keys, kS3Scope, kS3Date).signature,
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(SignV4(S3Example("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}), kS3Keys, kS3Scope,
                   kS3Date)
                .signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4SignerTest, HeadersTheSignerSetsReplaceTheCallersOwn) {
  SigV4Request plain = S3Example("GET", "/test.txt");
  SigV4Request stale = plain;
  stale.headers.emplace_back("X-Amz-Date", "19990101T000000Z");
  stale.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 old");
  EXPECT_EQ(SignV4(stale, kS3Keys, kS3Scope, kS3Date).signature,
            SignV4(plain, kS3Keys, kS3Scope, kS3Date).signature);
}

TEST(SigV4SignerTest, DuplicateHeadersAreJoinedInOrder) {
  SigV4Request r =
      SuiteRequest("GET", "/", {}, {{"My-Header1", "value2"}, {"My-Header1", "value1"}});
  SigV4Signature s = SignV4(r, kSuiteKeys, kSuiteScope, kSuiteDate);
  EXPECT_NE(s.canonical_request.find("\nmy-header1:value2,value1\n"), std::string::npos)
      << s.canonical_request;
  EXPECT_NE(s.canonical_request.find("\nhost;my-header1;x-amz-date\n"), std::string::npos);
}

TEST(SigV4SignerTest, TheSecretAppearsInNoOutput) {
  SigV4Credentials keys = kS3Keys;
  keys.session_token = "token-value";
  SigV4Signature s = SignV4(S3Example("GET", "/k"), keys, kS3Scope, kS3Date);
  std::string all = s.canonical_request + s.string_to_sign + s.signature;
  for (const auto& [n, v] : s.headers) all += n + v;
  EXPECT_EQ(all.find(keys.secret_access_key), std::string::npos);
  EXPECT_EQ(all.find("bPxRfiCY"), std::string::npos);
}

TEST(SigV4SignerTest, UriEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UriEncode("a b+c/~d_e.f-g", false), "a%20b%2Bc/~d_e.f-g");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("\xC3\xA9=&?#%", true), "%C3%A9%3D%26%3F%23%25");
  EXPECT_EQ(CanonicalQueryString({{"b", "x y"}, {"a", ""}, {"a/", "1"}}), "a=&a%2F=1&b=x%20y");
}

TEST(SigV4SignerTest, AmzDateIsUtc) {
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
}

}  // namespace
}  // namespace batchd::pipeline
