// The token file's rules (api/token_set.h): roles, comments and blank lines, what makes a line
// bad (reported by line number, never quoting it), and lookups.
#include "api/token_set.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace batchd::api {
namespace {

const std::string kAdmin = "admin-token-0123456789";
const std::string kRead = "read_token.~-0123456789";

TEST(TokenSetTest, AdminAndReadLinesWithCommentsBlanksAndSpaces) {
  Result<TokenSet> set = TokenSet::Parse("# who may do what\n\n  admin: " + kAdmin +
                                         "  \r\n\t# readers\nread:" + kRead + "\n");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->admin_count(), 1u);
  EXPECT_EQ(set->read_count(), 1u);
  EXPECT_EQ(set->Find(kAdmin), Role::kAdmin);
  EXPECT_EQ(set->Find(kRead), Role::kRead);
}

TEST(TokenSetTest, OnlyExactTokensAreFound) {
  Result<TokenSet> set = TokenSet::Parse("admin:" + kAdmin + "\nread:" + kRead);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  for (const std::string& other :
       {std::string(), kAdmin.substr(0, kAdmin.size() - 1), kAdmin + "x", "x" + kAdmin,
        std::string("ADMIN-TOKEN-0123456789"), kAdmin + kRead, std::string(300, 'a'),
        std::string("admin:") + kAdmin}) {
    EXPECT_FALSE(set->Find(other).has_value()) << other;
  }
}

TEST(TokenSetTest, ABadLineIsNamedByNumberAndNeverQuoted) {
  const std::string secret = "SeCrEt-VaLuE-0123456789";
  struct Case {
    std::string text;
    std::string expected;  // part of the message
  };
  for (const Case& c : std::vector<Case>{
           {"# ok\nadmin:" + kAdmin + "\n" + secret + "\n", "line 3: expected admin:TOKEN"},
           {"writer:" + secret, "line 1: the role before ':' must be admin or read"},
           {"\n\nread:short-" + secret.substr(0, 3), "line 3: a token must be 16 to 256"},
           {"admin:" + secret + "/with+slash=", "line 1: a token may only hold"},
           {"admin:" + secret + " " + secret, "line 1: a token may only hold"},
           {"admin:" + std::string(257, 'x'), "line 1: a token must be 16 to 256"},
           {"admin:" + secret + "\nread:" + secret, "line 2: this token is already listed"},
           {"read:", "line 1: a token must be"},
           {"", "no tokens"},
           {"# only comments\n\n", "no tokens"},
       }) {
    Result<TokenSet> set = TokenSet::Parse(c.text);
    ASSERT_FALSE(set.ok()) << c.text;
    EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(set.status().message().find(c.expected), std::string::npos)
        << c.expected << " in: " << set.status().message();
    EXPECT_EQ(set.status().message().find(secret.substr(0, 10)), std::string::npos)
        << "quotes the line: " << set.status().message();
  }
}

TEST(TokenSetTest, LoadTokenFileNamesTheFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::filesystem::path good = dir / ("batchd-token-test-good-" + std::to_string(::getpid()));
  const std::filesystem::path bad = dir / ("batchd-token-test-bad-" + std::to_string(::getpid()));
  std::ofstream(good) << "admin:" << kAdmin << "\n";
  std::ofstream(bad) << "admin " << kAdmin << "\n";
  Result<TokenSet> loaded = LoadTokenFile(good);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Find(kAdmin), Role::kAdmin);

  Result<TokenSet> refused = LoadTokenFile(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "token file " + bad.string() + ": line 1: expected admin:TOKEN or read:TOKEN");

  Result<TokenSet> missing = LoadTokenFile(dir / "batchd-no-such-token-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("batchd-no-such-token-file"), std::string::npos);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

}  // namespace
}  // namespace batchd::api
