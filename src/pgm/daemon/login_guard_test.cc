#include "pgm/daemon/login_guard.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace pgm::daemon {
namespace {

using namespace std::chrono_literals;
using Stage = LoginGuard::Stage;

class LoginGuardTest : public ::testing::Test {
 protected:
  LoginGuard::Clock::time_point at(std::chrono::milliseconds ms) const { return t0_ + ms; }

  // Admits a connection from `source` and starts its session as `pid`.
  LoginGuard::Admission connect(pid_t pid, const std::string& source,
                                std::chrono::milliseconds when) {
    LoginGuard::Admission a = guard_.admit(source, at(when));
    for (pid_t victim : a.evict) {
      guard_.ended(victim, Stage::kLoggingIn, at(when));
    }
    if (a.accept) {
      guard_.started(pid, source, at(when));
    }
    return a;
  }

  // One whole failed login of `pid` from `source`; returns the delay it was given.
  std::chrono::milliseconds fail(pid_t pid, const std::string& source,
                                 std::chrono::milliseconds when) {
    LoginGuard::Admission a = connect(pid, source, when);
    EXPECT_TRUE(a.accept);
    guard_.stage(pid, Stage::kFailing);
    guard_.ended(pid, Stage::kFailing, at(when));
    return a.failure_delay;
  }

  LoginGuard guard_;
  LoginGuard::Clock::time_point t0_ = LoginGuard::Clock::now();
};

TEST_F(LoginGuardTest, FailureDelayDoublesPerRecentFailureUpToTheCap) {
  std::vector<int64_t> delays;
  for (pid_t pid = 1; pid <= 8; ++pid) {
    delays.push_back(fail(pid, "10.0.0.1", std::chrono::milliseconds(pid * 100)).count());
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{250, 500, 1000, 2000, 4000, 8000, 8000, 8000}));
  // Another source starts from the beginning.
  EXPECT_EQ(fail(100, "10.0.0.2", 1s), 250ms);
}

TEST_F(LoginGuardTest, FailuresAreForgottenAfterSuccessOrAfterTheMemory) {
  fail(1, "10.0.0.1", 0ms);
  fail(2, "10.0.0.1", 1ms);
  EXPECT_EQ(fail(3, "10.0.0.1", 2ms), 1000ms);
  ASSERT_TRUE(connect(4, "10.0.0.1", 3ms).accept);
  guard_.ended(4, Stage::kAuthenticated, at(3ms));
  EXPECT_EQ(fail(5, "10.0.0.1", 4ms), 250ms);
  EXPECT_EQ(fail(6, "10.0.0.1", 5ms), 500ms);
  auto later = std::chrono::duration_cast<std::chrono::milliseconds>(LoginGuard::kFailureMemory);
  EXPECT_EQ(fail(7, "10.0.0.1", 5ms + later), 250ms);
}

TEST_F(LoginGuardTest, IdleConnectionsOfASourceAreEvictedOldestFirst) {
  for (pid_t pid = 1; pid <= static_cast<pid_t>(LoginGuard::kMaxPendingPerSource); ++pid) {
    ASSERT_TRUE(connect(pid, "127.0.0.1", std::chrono::milliseconds(pid)).accept);
  }
  // Sessions that may still be logging in quickly are not evicted: refused.
  LoginGuard::Admission early = connect(99, "127.0.0.1", 500ms);
  EXPECT_FALSE(early.accept);
  EXPECT_TRUE(early.evict.empty());
  // A second later they are idle: the next connection (the admin, say) gets in and the oldest
  // idle one goes.
  LoginGuard::Admission a = connect(100, "127.0.0.1", 1050ms);
  ASSERT_TRUE(a.accept) << a.refusal;
  EXPECT_EQ(a.evict, std::vector<pid_t>{1});
  EXPECT_EQ(guard_.sessions(), LoginGuard::kMaxPendingPerSource);
  // Authenticated sessions do not count against the source: room for one more, then the
  // next oldest idle one goes.
  guard_.stage(100, Stage::kAuthenticated);
  LoginGuard::Admission b = connect(101, "127.0.0.1", 1060ms);
  ASSERT_TRUE(b.accept);
  EXPECT_TRUE(b.evict.empty());
  LoginGuard::Admission b2 = connect(102, "127.0.0.1", 1061ms);
  ASSERT_TRUE(b2.accept);
  EXPECT_EQ(b2.evict, std::vector<pid_t>{2});
  // Other sources are untouched by this source's limit.
  LoginGuard::Admission c = connect(200, "10.0.0.9", 1070ms);
  ASSERT_TRUE(c.accept);
  EXPECT_TRUE(c.evict.empty());
}

TEST_F(LoginGuardTest, SessionsWaitingOutAFailureAreNeverEvicted) {
  for (pid_t pid = 1; pid <= static_cast<pid_t>(LoginGuard::kMaxPendingPerSource); ++pid) {
    ASSERT_TRUE(connect(pid, "10.0.0.1", std::chrono::milliseconds(pid)).accept);
    guard_.stage(pid, Stage::kFailing);
  }
  LoginGuard::Admission a = connect(100, "10.0.0.1", 5000ms);
  EXPECT_FALSE(a.accept);
  EXPECT_TRUE(a.evict.empty());
  EXPECT_NE(a.refusal.find("too many connections from 10.0.0.1"), std::string::npos) << a.refusal;
  // One ends: room again.
  guard_.ended(3, Stage::kFailing, at(5001ms));
  EXPECT_TRUE(connect(101, "10.0.0.1", 5002ms).accept);
}

TEST_F(LoginGuardTest, TheGlobalLimitEvictsTheOldestLoggingInOfAnySource) {
  pid_t pid = 1;
  for (int source = 0; pid <= static_cast<pid_t>(LoginGuard::kMaxSessions); ++source) {
    for (int i = 0; i < 4 && pid <= static_cast<pid_t>(LoginGuard::kMaxSessions); ++i, ++pid) {
      ASSERT_TRUE(
          connect(pid, "10.0.1." + std::to_string(source), std::chrono::milliseconds(pid)).accept);
      guard_.stage(pid, Stage::kAuthenticated);
    }
  }
  // All 64 logged in: nothing to evict.
  LoginGuard::Admission full = connect(1000, "10.0.9.9", 100ms);
  EXPECT_FALSE(full.accept);
  EXPECT_NE(full.refusal.find("too many remote management sessions"), std::string::npos);
  // One of them still logging in after a second: it makes room.
  guard_.stage(7, Stage::kLoggingIn);
  LoginGuard::Admission room = connect(1001, "10.0.9.9", 1110ms);
  ASSERT_TRUE(room.accept);
  EXPECT_EQ(room.evict, std::vector<pid_t>{7});
}

TEST_F(LoginGuardTest, SummaryCountsBySourceAtMostOncePerInterval) {
  EXPECT_FALSE(guard_.summary(at(0ms)));
  fail(1, "10.0.0.1", 0ms);
  fail(2, "10.0.0.1", 1ms);
  fail(3, "10.0.0.2", 2ms);
  auto line = guard_.summary(at(3ms));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("3 failed logins"), std::string::npos) << *line;
  EXPECT_NE(line->find("10.0.0.1 (2 failed, 0 refused, 0 evicted), 10.0.0.2 (1 failed"),
            std::string::npos)
      << *line;
  fail(4, "10.0.0.1", 4ms);
  EXPECT_FALSE(guard_.summary(at(5ms)));  // too early
  auto next = guard_.summary(at(5ms) + LoginGuard::kSummaryInterval);
  ASSERT_TRUE(next);
  EXPECT_NE(next->find("1 failed login,"), std::string::npos) << *next;
  EXPECT_FALSE(guard_.summary(at(10ms) + 10 * LoginGuard::kSummaryInterval));  // nothing new
}

TEST_F(LoginGuardTest, EndedIgnoresStrangers) {
  EXPECT_FALSE(guard_.ended(42, Stage::kFailing, at(0ms)));
  EXPECT_FALSE(guard_.summary(at(0ms)));
}

}  // namespace
}  // namespace pgm::daemon
