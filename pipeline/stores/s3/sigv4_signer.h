// AWS Signature Version 4 for S3 requests in the Authorization header: the canonical request,
// the string to sign, the signing key and the headers to add. Pure (no clock, no I/O), so
// tests can sign the AWS test suite's requests and compare with botocore's signer.
//
// S3's rules, which differ from other AWS services': the path is not normalized ("//" and ".."
// stay), each path segment is URI-encoded exactly once (every byte but A-Z a-z 0-9 - . _ ~ is
// %XX, "/" separates segments), and x-amz-content-sha256 (the payload's SHA-256, or
// UNSIGNED-PAYLOAD) is a signed header. With `SigV4Scope::content_sha256_header` false the
// header is left out, as the generic AWS test suite (service "service") expects.
//
// The secret key enters only the HMAC chain: it is in no output of this file.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/bytes.h"

namespace batchd::pipeline {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string
      session_token;  // empty: long-term keys; else sent (and signed) as x-amz-security-token
};

struct SigV4Scope {
  std::string region = "us-east-1";
  std::string service = "s3";
  bool content_sha256_header = true;  // S3: sign and send x-amz-content-sha256
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SigV4Request {
  std::string method;  // "GET", "PUT"
  // The decoded path as the server sees it: "/bucket/my key/ሴ" (UTF-8). Encoded here.
  std::string path;
  // Decoded names and values, in any order; a name without a value has "".
  HeaderList query;
  // Every header to sign, Host included ("Host", "127.0.0.1:9000"); names in any case, values
  // as they will be sent. Duplicate names are joined with "," in their order here.
  HeaderList headers;
  // Hex SHA-256 of the body (Sha256Hex), or "UNSIGNED-PAYLOAD".
  std::string payload_sha256;
};

struct SigV4Signature {
  // To add to the request as sent: x-amz-date, x-amz-content-sha256 (S3),
  // x-amz-security-token (with a session token) and Authorization.
  HeaderList headers;
  // The intermediate steps, for tests and for comparing with a server's StringToSign.
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
};

// Signs `request` at `amz_date` ("20150830T123600Z", UTC). The request's own x-amz-date,
// x-amz-content-sha256, x-amz-security-token and Authorization headers, if any, are replaced.
SigV4Signature SignV4(const SigV4Request& request, const SigV4Credentials& credentials,
                      const SigV4Scope& scope, std::string_view amz_date);

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (and "/" unless `encode_slash`), with
// upper-case hex: AWS's UriEncode.
std::string UriEncode(std::string_view text, bool encode_slash);

// The canonical query string: names and values UriEncode'd (slashes too), sorted by name and
// then value, joined as "a=1&b=&c=3".
std::string CanonicalQueryString(const HeaderList& query);

// Lower-case hex of SHA-256(data).
std::string Sha256Hex(ByteView data);
std::string Sha256Hex(std::string_view data);

// "YYYYMMDDTHHMMSSZ" for seconds since the Unix epoch.
std::string AmzDate(int64_t unix_seconds);

}  // namespace batchd::pipeline
