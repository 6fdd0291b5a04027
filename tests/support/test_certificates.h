// Certificates for TLS tests, made by Debian's `openssl` CLI in a private directory when a test
// asks: a test CA, server certificates it signed (valid, expired, for another name) and a
// self-signed one. EC P-256 keys, so making them all takes a few tens of milliseconds.
//
// Every server certificate but wrong_host names DNS:localhost and IP:127.0.0.1, so a test can
// reach it by either; none of them is trusted by the system's CA store.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {

class TestCertificates {
 public:
  struct Pair {
    std::filesystem::path cert;  // PEM certificate
    std::filesystem::path key;   // PEM private key, unencrypted
  };

  // kIoError with openssl's stderr if a step fails (kFailedPrecondition without openssl).
  static Result<std::unique_ptr<TestCertificates>> Make();

  const std::filesystem::path& ca_cert() const { return ca_cert_; }  // give it as --ca-file
  const Pair& valid() const { return valid_; }              // signed by the CA, 30 days from now
  const Pair& expired() const { return expired_; }          // signed by the CA, January 2020
  const Pair& wrong_host() const { return wrong_host_; }    // signed by the CA, wrong.example
  const Pair& self_signed() const { return self_signed_; }  // signed by itself, 30 days

 private:
  TestCertificates() = default;
  Status Run(const std::vector<std::string>& args) const;
  Result<Pair> Signed(const std::string& name, const std::string& common_name,
                      const std::string& extensions, const std::vector<std::string>& validity);

  TempDir dir_;
  std::filesystem::path ca_cert_;
  Pair valid_, expired_, wrong_host_, self_signed_;
};

}  // namespace batchd::testing
