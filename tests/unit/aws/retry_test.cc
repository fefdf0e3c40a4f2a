// The standard retry mode: classification, full-jitter backoff, the retry quota, HTTP dates.
#include <gtest/gtest.h>

#include "aws/retry.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;

TEST(RetryClassifyTest, AwsErrors) {
  EXPECT_EQ(classifyAwsError(400, "Throttling"), RetryKind::Throttling);
  EXPECT_EQ(classifyAwsError(503, "RequestLimitExceeded"), RetryKind::Throttling);
  EXPECT_EQ(classifyAwsError(429, ""), RetryKind::Throttling);
  EXPECT_EQ(classifyAwsError(500, "InternalError"), RetryKind::Transient);
  EXPECT_EQ(classifyAwsError(503, ""), RetryKind::Transient);
  EXPECT_EQ(classifyAwsError(502, "Whatever"), RetryKind::Transient);
  EXPECT_EQ(classifyAwsError(504, ""), RetryKind::Transient);
  EXPECT_EQ(classifyAwsError(400, "RequestTimeout"), RetryKind::Transient);
  EXPECT_EQ(classifyAwsError(400, "RequestTimeTooSkewed"), RetryKind::ClockSkew);
  EXPECT_EQ(classifyAwsError(400, "InvalidRouteTableID.NotFound"), RetryKind::NotRetryable);
  EXPECT_EQ(classifyAwsError(403, "UnauthorizedOperation"), RetryKind::NotRetryable);
  EXPECT_EQ(classifyAwsError(400, "InvalidParameterValue"), RetryKind::NotRetryable);
  EXPECT_EQ(classifyAwsError(501, "NotImplemented"), RetryKind::NotRetryable);
}

TEST(RetryClassifyTest, TransportErrors) {
  EXPECT_EQ(classifyTransportError(Error(ErrorCode::Timeout, "t")), RetryKind::Timeout);
  EXPECT_EQ(classifyTransportError(Error(ErrorCode::Unavailable, "refused")),
            RetryKind::Transient);
  EXPECT_EQ(classifyTransportError(Error(ErrorCode::InvalidArgument, "bad url")),
            RetryKind::NotRetryable);
}

TEST(RetryBackoffTest, FullJitterExponentialWithCap) {
  RetryOptions o;
  // random 1.0 gives the ceiling: base × 2^i.
  EXPECT_EQ(backoffDelay(0, RetryKind::Transient, 1.0, o), 100ms);
  EXPECT_EQ(backoffDelay(1, RetryKind::Transient, 1.0, o), 200ms);
  EXPECT_EQ(backoffDelay(3, RetryKind::Transient, 1.0, o), 800ms);
  EXPECT_EQ(backoffDelay(0, RetryKind::Throttling, 1.0, o), 500ms);
  EXPECT_EQ(backoffDelay(2, RetryKind::Throttling, 1.0, o), 2s);
  EXPECT_EQ(backoffDelay(20, RetryKind::Throttling, 1.0, o), 20s);   // capped
  EXPECT_EQ(backoffDelay(1000, RetryKind::Transient, 1.0, o), 20s);  // no overflow
  // The jitter scales the whole interval.
  EXPECT_EQ(backoffDelay(2, RetryKind::Transient, 0.25, o), 100ms);
  EXPECT_EQ(backoffDelay(5, RetryKind::Transient, 0.0, o), 0ms);
  EXPECT_EQ(backoffDelay(0, RetryKind::Timeout, 0.5, o), 50ms);
  // Clock skew: retry at once.
  EXPECT_EQ(backoffDelay(2, RetryKind::ClockSkew, 0.9, o), 0ms);
}

TEST(RetryQuotaTest, BucketDrainsAndRefills) {
  RetryQuota q;
  EXPECT_EQ(q.available(), 500);
  EXPECT_TRUE(q.tryAcquire(5));
  EXPECT_EQ(q.available(), 495);
  q.release(100);
  EXPECT_EQ(q.available(), 500);  // never above capacity
  EXPECT_TRUE(q.tryAcquire(500));
  EXPECT_FALSE(q.tryAcquire(1));
  EXPECT_EQ(q.available(), 0);
}

TEST(RetryStateTest, ThreeAttemptsThenStop) {
  RetryOptions o;
  RetryQuota q(o);
  RetryState s(o);
  EXPECT_EQ(s.attempts(), 1);
  auto d1 = s.onFailure(RetryKind::Throttling, 0.5, q);
  ASSERT_TRUE(d1);
  EXPECT_EQ(*d1, 250ms);
  EXPECT_EQ(s.attempts(), 2);
  auto d2 = s.onFailure(RetryKind::Throttling, 0.5, q);
  ASSERT_TRUE(d2);
  EXPECT_EQ(*d2, 500ms);
  EXPECT_EQ(q.available(), 490);
  EXPECT_FALSE(s.onFailure(RetryKind::Throttling, 0.5, q));
  EXPECT_EQ(s.stopReason(), "attempts exhausted");
  EXPECT_EQ(q.available(), 490);
}

TEST(RetryStateTest, ClientErrorsAreNotRetried) {
  RetryOptions o;
  RetryQuota q(o);
  RetryState s(o);
  EXPECT_FALSE(s.onFailure(RetryKind::NotRetryable, 0.5, q));
  EXPECT_EQ(s.stopReason(), "not retryable");
  EXPECT_EQ(q.available(), 500);
}

TEST(RetryStateTest, TimeoutsCostMoreAndSuccessReturnsTheCost) {
  RetryOptions o;
  RetryQuota q(o);
  RetryState s(o);
  ASSERT_TRUE(s.onFailure(RetryKind::Timeout, 0.1, q));
  EXPECT_EQ(q.available(), 490);
  s.onSuccess(q);
  EXPECT_EQ(q.available(), 500);
}

TEST(RetryStateTest, FirstTrySuccessAddsOneToken) {
  RetryOptions o;
  RetryQuota q(o);
  ASSERT_TRUE(q.tryAcquire(10));
  RetryState s(o);
  s.onSuccess(q);
  EXPECT_EQ(q.available(), 491);
}

TEST(RetryStateTest, EmptyQuotaStopsRetriesDuringAnOutage) {
  RetryOptions o;
  RetryQuota q(o);
  int retries = 0;
  // 100 calls each failing with 5xx: retries stop once the bucket is empty.
  for (int call = 0; call < 100; ++call) {
    RetryState s(o);
    while (s.onFailure(RetryKind::Transient, 0.0, q)) {
      ++retries;
    }
  }
  EXPECT_EQ(retries, 100);  // 500 tokens / 5 per retry
  EXPECT_EQ(q.available(), 0);
  RetryState s(o);
  EXPECT_FALSE(s.onFailure(RetryKind::Throttling, 0.0, q));
  EXPECT_EQ(s.stopReason(), "retry quota empty");
}

TEST(RetryStateTest, MaxAttemptsIsConfigurable) {
  RetryOptions o;
  o.max_attempts = 1;
  RetryQuota q(o);
  RetryState s(o);
  EXPECT_FALSE(s.onFailure(RetryKind::Throttling, 0.5, q));
}

TEST(HttpDateTest, ParsesTheThreeForms) {
  auto imf = parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(imf);
  EXPECT_EQ(formatRfc3339(*imf), "1994-11-06T08:49:37.000Z");
  EXPECT_EQ(formatHttpDate(*imf), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(*parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), *imf);
  EXPECT_EQ(*parseHttpDate("Sun Nov  6 08:49:37 1994"), *imf);
  auto now = parseHttpDate("Wed, 25 Nov 2026 13:02:04 GMT");
  ASSERT_TRUE(now);
  EXPECT_EQ(formatHttpDate(*now), "Wed, 25 Nov 2026 13:02:04 GMT");
}

TEST(HttpDateTest, RejectsGarbage) {
  for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                          "Sun Nov  6 08:49:37"}) {
    auto r = parseHttpDate(bad);
    EXPECT_FALSE(r) << bad;
  }
}

}  // namespace
}  // namespace pathpilot::aws
