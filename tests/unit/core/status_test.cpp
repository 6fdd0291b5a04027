// Status and Result are how every module reports failure, so their small contract is pinned here.
#include "core/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace batchd {
namespace {

TEST(StatusTest, DefaultIsOkWithEmptyMessageAndPath) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.path(), "");
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, BuildingWithCodeOkGivesOkEvenWithAMessage) {
  Status s(StatusCode::kOk, "ignored", "/ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.path(), "");
}

TEST(StatusTest, ErrorCarriesCodeMessageAndPath) {
  Status s = Status::InvalidArgument("runs must be an integer >= 1, got 0", "/runs");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "runs must be an integer >= 1, got 0");
  EXPECT_EQ(s.path(), "/runs");
  EXPECT_EQ(s.ToString(), "invalid_argument: runs must be an integer >= 1, got 0 (at /runs)");
}

TEST(StatusTest, ToStringOmitsAnEmptyPath) {
  EXPECT_EQ(Status::Unavailable("queue full").ToString(), "unavailable: queue full");
}

TEST(StatusTest, FactoriesSetTheirCodes) {
  EXPECT_EQ(Status::Malformed("m").code(), StatusCode::kMalformed);
  EXPECT_EQ(Status::NotFound("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(Status::Conflict("m").code(), StatusCode::kConflict);
  EXPECT_EQ(Status::LimitExceeded("m", "/data").code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(Status::Unavailable("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Status::FailedPrecondition("m").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Status::IoError("m").code(), StatusCode::kIoError);
  EXPECT_EQ(Status::Corrupt("m").code(), StatusCode::kCorrupt);
  EXPECT_EQ(Status::Internal("m").code(), StatusCode::kInternal);
}

TEST(StatusTest, CodeNamesAreStableLowerSnake) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kOk), "ok");
  EXPECT_STREQ(StatusCodeName(StatusCode::kMalformed), "malformed");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument), "invalid_argument");
  EXPECT_STREQ(StatusCodeName(StatusCode::kNotFound), "not_found");
  EXPECT_STREQ(StatusCodeName(StatusCode::kConflict), "conflict");
  EXPECT_STREQ(StatusCodeName(StatusCode::kLimitExceeded), "limit_exceeded");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUnavailable), "unavailable");
  EXPECT_STREQ(StatusCodeName(StatusCode::kFailedPrecondition), "failed_precondition");
  EXPECT_STREQ(StatusCodeName(StatusCode::kIoError), "io_error");
  EXPECT_STREQ(StatusCodeName(StatusCode::kCorrupt), "corrupt");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInternal), "internal");
  EXPECT_STREQ(StatusCodeName(static_cast<StatusCode>(999)), "unknown");
}

TEST(StatusTest, CopiesShareTheSameError) {
  Status a = Status::Conflict("busy");
  Status b = a;
  EXPECT_EQ(b.code(), StatusCode::kConflict);
  EXPECT_EQ(b.message(), "busy");
}

TEST(ResultTest, HoldsAValue) {
  Result<std::string> r(std::string("hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(r->size(), 5u);
}

TEST(ResultTest, HoldsAnError) {
  Result<int> r(Status::NotFound("no batch b1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "no batch b1");
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd", "/x");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusMacrosTest, AssignOrReturnPassesValuesThrough) {
  Result<int> r = Quarter(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
}

TEST(StatusMacrosTest, AssignOrReturnStopsAtTheFirstError) {
  Result<int> r = Quarter(6);  // 6 -> 3, then 3 is odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().path(), "/x");
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheError) {
  EXPECT_TRUE(CheckEven(4).ok());
  Status s = CheckEven(5);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd");
}

}  // namespace
}  // namespace batchd
