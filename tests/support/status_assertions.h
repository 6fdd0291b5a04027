// GoogleTest assertions for batchd::Status and Result<T>, printing the status on failure.
#pragma once

#include <gtest/gtest.h>

#include <utility>

#include "core/status.h"

#define ASSERT_OK(expr)                                                          \
  do {                                                                           \
    const ::batchd::Status batchd_assert_status_ = (expr);                       \
    ASSERT_TRUE(batchd_assert_status_.ok()) << batchd_assert_status_.ToString(); \
  } while (0)

// `ASSERT_OK_AND_ASSIGN(auto x, MakeX());` declares x from a Result or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(BATCHD_CONCAT(batchd_assert_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
