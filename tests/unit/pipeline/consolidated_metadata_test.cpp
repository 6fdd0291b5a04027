// ParentGroupOf: which group's consolidated metadata a sink URL joins (the updates themselves
// run against real zarr-python groups in tests/integration/pipeline_transcode_test.cpp).
#include "pipeline/formats/consolidated_metadata.h"

#include <gtest/gtest.h>

namespace batchd::pipeline {
namespace {

void ExpectParent(const std::string& url, const std::string& group, const std::string& name) {
  std::optional<GroupMember> member = ParentGroupOf(url);
  ASSERT_TRUE(member.has_value()) << url;
  EXPECT_EQ(member->group_url, group) << url;
  EXPECT_EQ(member->name, name) << url;
}

TEST(ParentGroupOfTest, ThePathsLastComponentIsTheMemberOfItsParent) {
  ExpectParent("file:///data/g/a.zarr", "file:///data/g", "a.zarr");
  ExpectParent("file:///data/g/a.zarr//", "file:///data/g", "a.zarr");
  ExpectParent("file:///g/a", "file:///g", "a");
  ExpectParent("https://host:8443/bucket/g/a", "https://host:8443/bucket/g", "a");
  ExpectParent("s3://bucket/prefix/a", "s3://bucket/prefix", "a");
}

TEST(ParentGroupOfTest, NoParentBelowTheAuthorityAndNoOddNames) {
  for (const char* url : {"file:///a", "file:///", "s3://bucket/a", "s3://bucket", "http://host/a",
                          "http://host", "file:///g/..", "file:///g/.", "http://host/g/a?x=1",
                          "http://host/g/a#f", "no-scheme/g/a"}) {
    EXPECT_FALSE(ParentGroupOf(url).has_value()) << url;
  }
}

}  // namespace
}  // namespace batchd::pipeline
