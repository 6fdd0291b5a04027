// SigV4 (sigv4_signer.h) over OpenSSL's SHA-256 and HMAC.
#include "pipeline/stores/s3/sigv4_signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace batchd::pipeline {
namespace {

using Digest = std::array<uint8_t, 32>;

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";

std::string Hex(const uint8_t* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xF]);
  }
  return out;
}

Digest Sha256(const void* data, size_t size) {
  Digest out{};
  unsigned int length = 0;
  EVP_Digest(data, size, out.data(), &length, EVP_sha256(), nullptr);
  return out;
}

Digest Hmac(const void* key, size_t key_size, std::string_view message) {
  Digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_size),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length);
  return out;
}

Digest Hmac(const Digest& key, std::string_view message) {
  return Hmac(key.data(), key.size(), message);
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

// Header values as signed: no leading or trailing blanks, and each run of blanks inside one
// space (what the server computes from the header it received).
std::string TrimmedValue(std::string_view value) {
  std::string out;
  bool blank = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

bool IsHeaderWeSet(const std::string& lower_name) {
  return lower_name == "x-amz-date" || lower_name == "x-amz-content-sha256" ||
         lower_name == "x-amz-security-token" || lower_name == "authorization";
}

}  // namespace

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || (c == '/' && !encode_slash);
    if (unreserved) {
      out.push_back(c);
    } else {
      auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const HeaderList& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string Sha256Hex(ByteView data) {
  Digest digest = Sha256(data.data(), data.size());
  return Hex(digest.data(), digest.size());
}

std::string Sha256Hex(std::string_view data) {
  Digest digest = Sha256(data.data(), data.size());
  return Hex(digest.data(), digest.size());
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char out[32];
  std::strftime(out, sizeof(out), "%Y%m%dT%H%M%SZ", &utc);
  return out;
}

SigV4Signature SignV4(const SigV4Request& request, const SigV4Credentials& credentials,
                      const SigV4Scope& scope, std::string_view amz_date) {
  SigV4Signature out;
  out.headers.emplace_back("x-amz-date", std::string(amz_date));
  if (scope.content_sha256_header) {
    out.headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
  }
  if (!credentials.session_token.empty()) {
    out.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }

  // Lower-cased names, sorted (stable: duplicates keep their order and are joined).
  std::vector<std::pair<std::string, std::string>> signed_headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower = LowerCase(name);
    if (IsHeaderWeSet(lower)) continue;
    signed_headers.emplace_back(std::move(lower), TrimmedValue(value));
  }
  for (const auto& [name, value] : out.headers) signed_headers.emplace_back(name, value);
  std::stable_sort(signed_headers.begin(), signed_headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string canonical_headers;
  std::string signed_names;
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    const std::string& name = signed_headers[i].first;
    if (i > 0 && signed_headers[i - 1].first == name) {
      canonical_headers.back() = ',';  // replaces the previous value's "\n"
    } else {
      if (!signed_names.empty()) signed_names.push_back(';');
      signed_names += name;
      canonical_headers += name;
      canonical_headers.push_back(':');
    }
    canonical_headers += signed_headers[i].second;
    canonical_headers.push_back('\n');
  }

  std::string& creq = out.canonical_request;
  creq = request.method;
  creq.push_back('\n');
  creq += UriEncode(request.path.empty() ? "/" : request.path, false);
  creq.push_back('\n');
  creq += CanonicalQueryString(request.query);
  creq.push_back('\n');
  creq += canonical_headers;
  creq.push_back('\n');
  creq += signed_names;
  creq.push_back('\n');
  creq += request.payload_sha256;

  const std::string date(amz_date.substr(0, 8));
  const std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" +
                       credential_scope + "\n" + Sha256Hex(std::string_view(creq));

  const std::string secret = "AWS4" + credentials.secret_access_key;
  Digest key = Hmac(secret.data(), secret.size(), date);
  key = Hmac(key, scope.region);
  key = Hmac(key, scope.service);
  key = Hmac(key, "aws4_request");
  const Digest signature = Hmac(key, out.string_to_sign);
  out.signature = Hex(signature.data(), signature.size());

  out.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           credential_scope + ", SignedHeaders=" + signed_names +
                           ", Signature=" + out.signature);
  return out;
}

}  // namespace batchd::pipeline
