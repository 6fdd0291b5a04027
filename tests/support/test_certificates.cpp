#include "tests/support/test_certificates.h"

#include <unistd.h>

#include <fstream>

#include "tests/support/command.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOpenssl = "/usr/bin/openssl";

// The config every step reads instead of the system's openssl.cnf: extension sections for the
// CA and the two kinds of server certificate, and a CA database for `openssl ca`, the one
// OpenSSL 3.0 command that takes a start date in the past (-startdate).
std::string Config(const fs::path& dir) {
  const std::string d = dir.string();
  return "[ req ]\n"
         "distinguished_name = dn\n"
         "[ dn ]\n"
         "[ ca_ext ]\n"
         "basicConstraints = critical, CA:TRUE\n"
         "keyUsage = critical, keyCertSign, cRLSign\n"
         "subjectKeyIdentifier = hash\n"
         "[ localhost_ext ]\n"
         "basicConstraints = CA:FALSE\n"
         "extendedKeyUsage = serverAuth\n"
         "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
         "[ wrong_host_ext ]\n"
         "basicConstraints = CA:FALSE\n"
         "extendedKeyUsage = serverAuth\n"
         "subjectAltName = DNS:wrong.example\n"
         "[ ca ]\n"
         "default_ca = test_ca\n"
         "[ test_ca ]\n"
         "database = " +
         d +
         "/index.txt\n"
         "new_certs_dir = " +
         d +
         "/issued\n"
         "certificate = " +
         d +
         "/ca.pem\n"
         "private_key = " +
         d +
         "/ca.key\n"
         "serial = " +
         d +
         "/serial\n"
         "default_md = sha256\n"
         "policy = any_name\n"
         "unique_subject = no\n"
         "[ any_name ]\n"
         "commonName = supplied\n";
}

const std::vector<std::string> kNewKey = {"-newkey", "ec", "-pkeyopt",
                                          "ec_paramgen_curve:prime256v1", "-nodes"};

}  // namespace

Status TestCertificates::Run(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv, std::chrono::seconds(60)));
  if (out.exit_code != 0) {
    std::string command;
    for (const std::string& a : argv) command += a + " ";
    return Status::IoError(command + "failed (" + std::to_string(out.exit_code) + "): " + out.err);
  }
  return Status::Ok();
}

Result<TestCertificates::Pair> TestCertificates::Signed(const std::string& name,
                                                        const std::string& common_name,
                                                        const std::string& extensions,
                                                        const std::vector<std::string>& validity) {
  const fs::path d = dir_.path();
  const std::string config = (d / "openssl.cnf").string();
  Pair pair{d / (name + ".pem"), d / (name + ".key")};
  std::vector<std::string> request = {"req", "-config", config, "-new"};
  request.insert(request.end(), kNewKey.begin(), kNewKey.end());
  request.insert(request.end(), {"-keyout", pair.key.string(), "-out",
                                 (d / (name + ".csr")).string(), "-subj", "/CN=" + common_name});
  RETURN_IF_ERROR(Run(request));
  std::vector<std::string> sign = {"ca",
                                   "-config",
                                   config,
                                   "-batch",
                                   "-notext",
                                   "-in",
                                   (d / (name + ".csr")).string(),
                                   "-out",
                                   pair.cert.string(),
                                   "-extensions",
                                   extensions};
  sign.insert(sign.end(), validity.begin(), validity.end());
  RETURN_IF_ERROR(Run(sign));
  return pair;
}

Result<std::unique_ptr<TestCertificates>> TestCertificates::Make() {
  if (::access(kOpenssl, X_OK) != 0) {
    return Status::FailedPrecondition(std::string(kOpenssl) +
                                      " is missing: install openssl (scripts/install-deps.sh)");
  }
  std::unique_ptr<TestCertificates> certs(new TestCertificates());
  const fs::path d = certs->dir_.path();
  std::error_code ec;
  fs::create_directories(d / "issued", ec);
  {
    std::ofstream(d / "openssl.cnf") << Config(d);
    std::ofstream(d / "index.txt");
    std::ofstream(d / "serial") << "01\n";
  }
  if (ec || !fs::exists(d / "serial")) return Status::IoError("cannot write to " + d.string());
  const std::string config = (d / "openssl.cnf").string();

  certs->ca_cert_ = d / "ca.pem";
  std::vector<std::string> ca = {"req", "-config", config, "-x509", "-new"};
  ca.insert(ca.end(), kNewKey.begin(), kNewKey.end());
  ca.insert(ca.end(), {"-keyout", (d / "ca.key").string(), "-out", certs->ca_cert_.string(),
                       "-days", "3650", "-subj", "/CN=batchd test CA", "-extensions", "ca_ext"});
  RETURN_IF_ERROR(certs->Run(ca));

  ASSIGN_OR_RETURN(certs->valid_,
                   certs->Signed("valid", "localhost", "localhost_ext", {"-days", "30"}));
  ASSIGN_OR_RETURN(certs->expired_,
                   certs->Signed("expired", "localhost", "localhost_ext",
                                 {"-startdate", "20200101000000Z", "-enddate", "20200102000000Z"}));
  ASSIGN_OR_RETURN(certs->wrong_host_,
                   certs->Signed("wrong_host", "wrong.example", "wrong_host_ext", {"-days", "30"}));

  certs->self_signed_ = {d / "self_signed.pem", d / "self_signed.key"};
  std::vector<std::string> self = {"req", "-config", config, "-x509", "-new"};
  self.insert(self.end(), kNewKey.begin(), kNewKey.end());
  self.insert(self.end(), {"-keyout", certs->self_signed_.key.string(), "-out",
                           certs->self_signed_.cert.string(), "-days", "30", "-subj",
                           "/CN=localhost", "-extensions", "localhost_ext"});
  RETURN_IF_ERROR(certs->Run(self));
  return certs;
}

}  // namespace batchd::testing
