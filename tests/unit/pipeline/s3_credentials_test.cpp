// Where s3:// keys come from (s3_credentials.h): the lookup order, ini profiles, the region,
// and refusals that name the file, profile or variable but never a key.
#include "pipeline/stores/s3/s3_credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace batchd::pipeline {
namespace {

std::map<std::string, std::string>& Env() {
  static std::map<std::string, std::string> env;
  return env;
}

const char* FakeGetenv(const char* name) {
  auto it = Env().find(name);
  return it == Env().end() ? nullptr : it->second.c_str();
}

constexpr const char* kFile = R"INI(
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default/secret+key

; another comment
[profile prod]
aws_access_key_id=AKIDPROD
aws_secret_access_key=prod-secret
aws_session_token = prod-token==
[half]
aws_access_key_id = AKIDHALF
)INI";

class S3CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Env().clear();
    char pattern[] = "/tmp/batchd-s3cred-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    file_ = (dir_ / "credentials").string();
    std::ofstream(file_) << kFile;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(S3CredentialsTest, ParsesProfilesWithAndWithoutThePrefix) {
  auto d = ParseCredentialsFile(kFile, "default", "f");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(d->secret_access_key, "default/secret+key");
  EXPECT_EQ(d->session_token, "");
  auto p = ParseCredentialsFile(kFile, "prod", "f");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->access_key_id, "AKIDPROD");
  EXPECT_EQ(p->secret_access_key, "prod-secret");
  EXPECT_EQ(p->session_token, "prod-token==");
}

TEST_F(S3CredentialsTest, AMissingOrIncompleteProfileIsRefusedWithoutItsValues) {
  auto missing = ParseCredentialsFile(kFile, "staging", "/etc/aws");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("/etc/aws [staging]"), std::string::npos);
  auto half = ParseCredentialsFile(kFile, "half", "/etc/aws");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("aws_secret_access_key"), std::string::npos);
  EXPECT_EQ(half.status().message().find("AKIDHALF"), std::string::npos);
}

TEST_F(S3CredentialsTest, TheFileWinsOverTheEnvironment) {
  Env()["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  Env()["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  auto id = ResolveS3Identity({.credentials_file = file_, .profile = "prod"}, FakeGetenv);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(id->credentials.has_value());
  EXPECT_EQ(id->credentials->access_key_id, "AKIDPROD");
  EXPECT_NE(id->source.find("[prod]"), std::string::npos);
  EXPECT_EQ(id->source.find("prod-secret"), std::string::npos);
}

TEST_F(S3CredentialsTest, TheEnvironmentWithItsSessionToken) {
  Env()["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  Env()["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  Env()["AWS_SESSION_TOKEN"] = "env-token";
  auto id = ResolveS3Identity({}, FakeGetenv);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(id->credentials.has_value());
  EXPECT_EQ(id->credentials->access_key_id, "AKIDENV");
  EXPECT_EQ(id->credentials->secret_access_key, "env-secret");
  EXPECT_EQ(id->credentials->session_token, "env-token");
  EXPECT_EQ(id->source.find("env-secret"), std::string::npos);
  EXPECT_EQ(id->source.find("AKIDENV"), std::string::npos);
}

TEST_F(S3CredentialsTest, AnonymousWhenAskedOrWhenNothingIsFound) {
  Env()["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  Env()["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  auto asked = ResolveS3Identity({.anonymous = true, .credentials_file = file_}, FakeGetenv);
  ASSERT_TRUE(asked.ok());
  EXPECT_FALSE(asked->credentials.has_value());
  EXPECT_NE(asked->source.find("anonymous"), std::string::npos);
  Env().clear();
  auto none = ResolveS3Identity({}, FakeGetenv);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->credentials.has_value());
  EXPECT_NE(none->source.find("anonymous"), std::string::npos);
}

TEST_F(S3CredentialsTest, HalfAnEnvironmentOrAnUnreadableFileIsRefused) {
  Env()["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  auto half = ResolveS3Identity({}, FakeGetenv);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().path(), "AWS_SECRET_ACCESS_KEY");
  auto unreadable =
      ResolveS3Identity({.credentials_file = (dir_ / "no-such-file").string()}, FakeGetenv);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_EQ(unreadable.status().path(), "--s3-credentials");
  EXPECT_NE(unreadable.status().message().find("no-such-file"), std::string::npos);
}

TEST_F(S3CredentialsTest, RegionLookupOrder) {
  EXPECT_EQ(ResolveS3Identity({}, FakeGetenv)->region, "us-east-1");
  Env()["AWS_DEFAULT_REGION"] = "ap-south-1";
  EXPECT_EQ(ResolveS3Identity({}, FakeGetenv)->region, "ap-south-1");
  Env()["AWS_REGION"] = "eu-west-3";
  EXPECT_EQ(ResolveS3Identity({}, FakeGetenv)->region, "eu-west-3");
  EXPECT_EQ(ResolveS3Identity({.region = "us-west-2"}, FakeGetenv)->region, "us-west-2");
}

}  // namespace
}  // namespace batchd::pipeline
