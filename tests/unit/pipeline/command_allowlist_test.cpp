// CommandAllowlist (pipeline/process/command_allowlist.h): which argv[0] may run.
#include "pipeline/process/command_allowlist.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace batchd::pipeline {
namespace {

class CommandAllowlistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("batchd-allow-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "tools");
    std::filesystem::create_directories(root_ / "other");
    for (const char* p : {"tools/run", "other/evil"}) {
      std::ofstream(root_ / p) << "#!/bin/sh\n";
      ::chmod((root_ / p).c_str(), 0755);
    }
    std::ofstream(root_ / "tools/data.txt") << "not a program";
    // A link inside the allowed directory that leads out of it.
    std::filesystem::create_symlink(root_ / "other/evil", root_ / "tools/escape");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string P(const char* rel) const { return (root_ / rel).string(); }
  std::filesystem::path root_;
};

TEST_F(CommandAllowlistTest, EmptyListRefusesEverything) {
  CommandAllowlist none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.Resolve("/bin/sh").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CommandAllowlistTest, DirectoryEntryAllowsItsExecutablesByPathAndBareName) {
  Result<CommandAllowlist> list = CommandAllowlist::Create({P("tools")});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  Result<std::string> by_path = list->Resolve(P("tools/run"));
  ASSERT_TRUE(by_path.ok()) << by_path.status().ToString();
  EXPECT_EQ(*by_path, std::filesystem::canonical(root_ / "tools/run").string());
  Result<std::string> by_name = list->Resolve("run");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(*by_name, *by_path);
}

TEST_F(CommandAllowlistTest, RefusalsNameWhatArgv0ResolvedTo) {
  Result<CommandAllowlist> list = CommandAllowlist::Create({P("tools")});
  ASSERT_TRUE(list.ok());
  // Outside the list.
  Status outside = list->Resolve(P("other/evil")).status();
  EXPECT_EQ(outside.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(outside.message().find(std::filesystem::canonical(root_ / "other/evil").string()),
            std::string::npos)
      << outside.message();
  // A symlink in the directory that leads out of it is judged by where it leads.
  Status escape = list->Resolve(P("tools/escape")).status();
  EXPECT_EQ(escape.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(escape.message().find("other/evil"), std::string::npos) << escape.message();
  // Through "..".
  EXPECT_FALSE(list->Resolve(P("tools/../other/evil")).ok());
  // Not executable, missing, relative with a slash, a bare name found nowhere (PATH is not
  // searched: sh is in PATH, not in the list).
  EXPECT_FALSE(list->Resolve(P("tools/data.txt")).ok());
  EXPECT_FALSE(list->Resolve(P("tools/missing")).ok());
  EXPECT_FALSE(list->Resolve("./run").ok());
  Status bare = list->Resolve("sh").status();
  EXPECT_NE(bare.message().find("PATH is not searched"), std::string::npos) << bare.message();
}

TEST_F(CommandAllowlistTest, ExecutableEntryAllowsItThroughItsSymlinkNameToo) {
  // /usr/bin/python3 is a symlink (to python3.11 on Debian 12): both names resolve to it.
  Result<CommandAllowlist> list = CommandAllowlist::Create({"/usr/bin/python3"});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  const std::string real = std::filesystem::canonical("/usr/bin/python3").string();
  Result<std::string> by_name = list->Resolve("python3");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(*by_name, real);
  Result<std::string> by_path = list->Resolve("/usr/bin/python3");
  ASSERT_TRUE(by_path.ok());
  EXPECT_EQ(*by_path, real);
  EXPECT_FALSE(list->Resolve("/bin/sh").ok());
}

TEST_F(CommandAllowlistTest, BadEntriesAreRefusedNamingThem) {
  for (const std::string& bad : {std::string("relative/dir"), P("missing"), P("tools/data.txt")}) {
    Result<CommandAllowlist> list = CommandAllowlist::Create({bad});
    EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(list.status().message().find(bad), std::string::npos) << list.status().message();
  }
}

}  // namespace
}  // namespace batchd::pipeline
