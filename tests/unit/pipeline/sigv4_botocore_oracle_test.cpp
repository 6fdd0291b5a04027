// SigV4 against botocore's S3 signer (Debian's python3-botocore, botocore.auth.S3SigV4Auth, run
// as /usr/bin/python3) as an oracle: 50 generated requests with keys holding spaces, unicode,
// "~", "+", "%" and reserved characters, query strings, ranges, payloads and session tokens are
// signed here and by botocore at the same instant, and every header must agree. botocore builds
// its own request path from the decoded key (urllib's quote), hashes the body itself and signs
// from there, so the canonical URI, the payload hash and the signature are all checked
// independently.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <nlohmann/json.hpp>

#include "pipeline/stores/s3/sigv4_signer.h"

namespace batchd::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
constexpr int kRequests = 50;

// Reads requests.json and writes botocore's signed headers for each to signed.json.
constexpr const char* kOracleScript = R"PY(
import datetime, json, sys, types, urllib.parse
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

root = sys.argv[1]
out = []
for r in json.load(open(root + "/requests.json", encoding="utf-8")):
    stamp = datetime.datetime.strptime(r["amz_date"], "%Y%m%dT%H%M%SZ")

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return stamp

    botocore.auth.datetime = types.SimpleNamespace(datetime=Fixed)
    path = urllib.parse.quote(r["path"], safe="/~")
    request = AWSRequest(method=r["method"], url="http://" + r["host"] + path,
                         headers=dict(r["headers"]), data=bytes.fromhex(r["body_hex"]),
                         params=[tuple(p) for p in r["query"]])
    request.headers["Host"] = r["host"]
    credentials = Credentials(r["access_key"], r["secret_key"], r["token"] or None)
    botocore.auth.S3SigV4Auth(credentials, "s3", r["region"]).add_auth(request)
    out.append({
        "path": path,
        "authorization": request.headers["Authorization"],
        "x-amz-date": request.headers["X-Amz-Date"],
        "x-amz-content-sha256": request.headers["X-Amz-Content-SHA256"],
        "x-amz-security-token": request.headers.get("X-Amz-Security-Token", ""),
    })
json.dump(out, open(root + "/signed.json", "w", encoding="utf-8"), ensure_ascii=False)
)PY";

struct GeneratedRequest {
  SigV4Request request;
  SigV4Credentials keys;
  std::string region;
  std::string amz_date;
  Bytes body;
};

std::vector<GeneratedRequest> GenerateRequests() {
  std::mt19937 random(20261207);
  auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
  const std::vector<std::string> key_parts = {"0.0",
                                              "c/0/1",
                                              "a b",
                                              "two  spaces",
                                              "\xC3\xBC"
                                              "ber",
                                              "\xE1\x88\xB4",
                                              "~tilde",
                                              "x+y",
                                              "=&?",
                                              "'!()*",
                                              "100%",
                                              ":@,;",
                                              "dir//x",
                                              ".zarray",
                                              "emoji-\xF0\x9F\x98\x80",
                                              "tab\there",
                                              "UPPER_lower-9"};
  const std::vector<std::string> query_names = {
      "versionId", "partNumber", "x y", "\xC3\xA9t\xC3\xA9", "list-type", "prefix", "a~b"};
  const std::vector<std::string> query_values = {"",  "1", "a/b", "x y+z", "\xE1\x88\xB4",
                                                 "~", "=&"};
  const std::vector<std::string> hosts = {"127.0.0.1:9000", "s3.eu-west-1.amazonaws.com",
                                          "my-bucket.s3.us-east-2.amazonaws.com", "[::1]:8333"};
  const std::vector<std::string> regions = {"us-east-1", "eu-west-1", "ap-southeast-2", "auto"};
  std::vector<GeneratedRequest> out;
  for (int i = 0; i < kRequests; ++i) {
    GeneratedRequest g;
    const bool put = i % 3 == 1;
    g.request.method = put ? "PUT" : "GET";
    std::string key = pick(key_parts);
    for (int parts = random() % 3; parts > 0; --parts) key += "/" + pick(key_parts);
    g.request.path = "/bucket-" + std::to_string(i % 4) + "/prefix/" + key;
    for (int q = random() % 4; q > 0; --q) {
      g.request.query.emplace_back(pick(query_names), pick(query_values));
    }
    g.request.headers.emplace_back("Host", pick(hosts));
    if (!put && random() % 2 == 0) {
      g.request.headers.emplace_back("Range", "bytes=" + std::to_string(random() % 1000) + "-" +
                                                  std::to_string(1000 + random() % 1000));
    }
    if (random() % 3 == 0) g.request.headers.emplace_back("x-amz-meta-note", "a   b  c ");
    if (put) {
      g.body.resize(random() % 5000);
      for (uint8_t& b : g.body) b = static_cast<uint8_t>(random());
      g.request.headers.emplace_back("Content-Type", "application/octet-stream");
    }
    g.request.payload_sha256 = Sha256Hex(ByteView(g.body));
    g.keys.access_key_id = "AKID" + std::to_string(100000 + random() % 900000);
    g.keys.secret_access_key = "secret/" + std::to_string(random()) + "+key";
    if (random() % 2 == 0) g.keys.session_token = "token//" + std::to_string(random()) + "==";
    g.region = pick(regions);
    g.amz_date = AmzDate(1'700'000'000 + static_cast<int64_t>(random() % 100'000'000));
    out.push_back(std::move(g));
  }
  return out;
}

std::string Hex(const Bytes& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string HeaderValue(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(SigV4BotocoreOracleTest, FiftyGeneratedRequestsSignAsBotocoreSignsThem) {
  char pattern[] = "/tmp/batchd-sigv4-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const fs::path root(pattern);
  const std::vector<GeneratedRequest> requests = GenerateRequests();
  nlohmann::json manifest = nlohmann::json::array();
  for (const GeneratedRequest& g : requests) {
    manifest.push_back({{"method", g.request.method},
                        {"path", g.request.path},
                        {"query", g.request.query},
                        {"host", HeaderValue(g.request.headers, "Host")},
                        {"headers", nlohmann::json::array()},
                        {"body_hex", Hex(g.body)},
                        {"access_key", g.keys.access_key_id},
                        {"secret_key", g.keys.secret_access_key},
                        {"token", g.keys.session_token},
                        {"region", g.region},
                        {"amz_date", g.amz_date}});
    for (const auto& [name, value] : g.request.headers) {
      if (name != "Host") manifest.back()["headers"].push_back({name, value});
    }
  }
  std::ofstream(root / "requests.json") << manifest.dump();
  std::ofstream(root / "oracle.py") << kOracleScript;
  const std::string command = std::string(kPython) + " " + (root / "oracle.py").string() + " " +
                              root.string() + " > " + (root / "oracle.log").string() + " 2>&1";
  const int exit_status = std::system(command.c_str());
  std::ifstream log(root / "oracle.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)),
                             std::istreambuf_iterator<char>());
  ASSERT_EQ(exit_status, 0) << "botocore failed (is python3-botocore installed? "
                               "scripts/install-deps.sh installs it):\n"
                            << log_text;
  const nlohmann::json signed_by_botocore =
      nlohmann::json::parse(std::ifstream(root / "signed.json"));
  fs::remove_all(root);
  ASSERT_EQ(signed_by_botocore.size(), requests.size());

  int with_token = 0, with_query = 0, puts = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GeneratedRequest& g = requests[i];
    const nlohmann::json& theirs = signed_by_botocore[i];
    SCOPED_TRACE("request " + std::to_string(i) + ": " + g.request.method + " " + g.request.path);
    const SigV4Signature ours =
        SignV4(g.request, g.keys, {.region = g.region, .service = "s3"}, g.amz_date);
    EXPECT_EQ(UriEncode(g.request.path, false), theirs["path"].get<std::string>());
    EXPECT_EQ(HeaderValue(ours.headers, "Authorization"), theirs["authorization"])
        << ours.canonical_request;
    EXPECT_EQ(HeaderValue(ours.headers, "x-amz-date"), theirs["x-amz-date"]);
    EXPECT_EQ(HeaderValue(ours.headers, "x-amz-content-sha256"), theirs["x-amz-content-sha256"]);
    EXPECT_EQ(HeaderValue(ours.headers, "x-amz-security-token"), theirs["x-amz-security-token"]);
    with_token += !g.keys.session_token.empty();
    with_query += !g.request.query.empty();
    puts += g.request.method == "PUT";
  }
  // The generator covers what the oracle is for.
  EXPECT_GT(with_token, 10);
  EXPECT_GT(with_query, 10);
  EXPECT_GT(puts, 10);
}

}  // namespace
}  // namespace batchd::pipeline
