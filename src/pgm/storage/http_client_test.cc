#include "pgm/storage/http_client.h"

#include <chrono>

#include <gtest/gtest.h>

namespace pgm::storage::internal {
namespace {

using std::chrono::milliseconds;

RetryPolicy fast(int attempts) { return {attempts, milliseconds(1), milliseconds(2), "after"}; }

TEST(RetrierTest, RetriesUnavailableAndTimeoutUntilSuccess) {
  Retrier retrier(fast(4));
  int calls = 0;
  Result<int> r = retrier.run([&]() -> Result<int> {
    ++calls;
    if (calls == 1) {
      return make_error(ErrorCode::kUnavailable, "down");
    }
    if (calls == 2) {
      return make_error(ErrorCode::kTimeout, "slow");
    }
    return 7;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(calls, 3);
}

TEST(RetrierTest, OtherErrorsEndAtOnceUnchanged) {
  Retrier retrier(fast(4));
  int calls = 0;
  Result<void> r = retrier.run([&]() -> Result<void> {
    ++calls;
    return make_error(ErrorCode::kNotFound, "s3: HEAD k: 404 NotFound");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.error().message(), "s3: HEAD k: 404 NotFound");
}

TEST(RetrierTest, ExhaustedAttemptsNameTheirCount) {
  Retrier retrier({3, milliseconds(1), milliseconds(2), "gave up after"});
  Result<void> r = retrier.run(
      []() -> Result<void> { return make_error(ErrorCode::kUnavailable, "azure: GET b: 503"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message(), "azure: GET b: 503 (gave up after 3 attempts)");
  Retrier once(fast(1));
  Result<void> single = once.run(
      []() -> Result<void> { return make_error(ErrorCode::kTimeout, "s3: GET k: timed out"); });
  EXPECT_EQ(single.error().message(), "s3: GET k: timed out");
}

TEST(RetrierTest, BackoffStaysBelowTheDoublingCeilingAndTheCap) {
  Retrier retrier({10, milliseconds(100), milliseconds(2000), "after"});
  for (int i = 0; i < 200; ++i) {
    EXPECT_LT(retrier.backoff(1), milliseconds(100));
    EXPECT_LT(retrier.backoff(3), milliseconds(400));
    EXPECT_LT(retrier.backoff(9), milliseconds(2000));
    EXPECT_GE(retrier.backoff(9), milliseconds(0));
  }
}

TEST(HttpResponseTest, HeaderLookupIsByLowerCaseNameFirstMatch) {
  HttpResponse response;
  response.headers = {{"etag", "\"a\""}, {"content-length", "5"}, {"etag", "\"b\""}};
  EXPECT_EQ(response.header("etag"), "\"a\"");
  EXPECT_EQ(response.header("content-length"), "5");
  EXPECT_EQ(response.header("x-missing"), "");
}

}  // namespace
}  // namespace pgm::storage::internal
