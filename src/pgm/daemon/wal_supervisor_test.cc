#include "pgm/daemon/wal_supervisor.h"

#include <gtest/gtest.h>

namespace pgm::daemon {
namespace {

using Clock = WalSupervisor::Clock;
using Kind = WalSupervisor::Action::Kind;
using std::chrono::seconds;

// A manual clock: the policy only ever sees the time points we hand it.
Clock::time_point at(int s) { return Clock::time_point{} + seconds(1000 + s); }

std::vector<WalSupervisor::View> views(size_t n) { return std::vector<WalSupervisor::View>(n); }

TEST(WalSupervisorTest, StartsEveryServerAndConfirmsWithStarted) {
  WalSupervisor sup(2);
  auto actions = sup.reconcile(at(0), views(2));
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, Kind::kStart);
  EXPECT_EQ(actions[1].index, 1u);
  sup.started(0, 100, at(0));
  sup.started(1, 101, at(0));
  EXPECT_TRUE(sup.reconcile(at(1), views(2)).empty());
  EXPECT_EQ(sup.index_of(101), 1);
  EXPECT_EQ(sup.index_of(999), -1);
}

TEST(WalSupervisorTest, RestartDelayDoublesUpToSixtySeconds) {
  WalSupervisor sup(1);
  sup.started(0, 10, at(0));
  std::vector<int> delays;
  int now = 0;
  for (int i = 0; i < 8; ++i) {
    auto delay = sup.exited(0, at(now), 1);
    ASSERT_TRUE(delay.has_value());
    delays.push_back(static_cast<int>(delay->count()));
    // Not restarted before the delay is over, restarted once it is.
    EXPECT_TRUE(sup.reconcile(at(now + static_cast<int>(delay->count()) - 1), views(1)).empty());
    now += static_cast<int>(delay->count());
    auto actions = sup.reconcile(at(now), views(1));
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(actions[0].kind, Kind::kStart);
    sup.started(0, 11 + i, at(now));
  }
  EXPECT_EQ(delays, (std::vector<int>{1, 2, 4, 8, 16, 32, 60, 60}));
}

TEST(WalSupervisorTest, HealthyRunResetsTheDelay) {
  WalSupervisor sup(1);
  sup.started(0, 10, at(0));
  EXPECT_EQ(sup.exited(0, at(1), 1), seconds(1));
  sup.started(0, 11, at(2));
  EXPECT_EQ(sup.exited(0, at(3), 1), seconds(2));
  sup.started(0, 12, at(5));
  // It ran 60 s: the next death waits the shortest delay again.
  EXPECT_EQ(sup.exited(0, at(65), 1), seconds(1));
}

TEST(WalSupervisorTest, UnworkableSettingsWaitTheLongestDelay) {
  WalSupervisor sup(1);
  sup.started(0, 10, at(0));
  EXPECT_EQ(sup.exited(0, at(1), WalSupervisor::kExitUnworkable), seconds(60));
}

TEST(WalSupervisorTest, StopsAnOfflineServerOnceAndRestartsItAtOnceWhenOnline) {
  WalSupervisor sup(1);
  sup.started(0, 10, at(0));
  auto v = views(1);
  v[0].admin_offline = true;
  auto actions = sup.reconcile(at(1), v);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kStop);
  EXPECT_EQ(actions[0].why, "the server was set offline");
  EXPECT_TRUE(sup.reconcile(at(2), v).empty()) << "a stop is asked for once";
  EXPECT_FALSE(sup.exited(0, at(3), -1).has_value()) << "we asked it to stop";
  EXPECT_TRUE(sup.reconcile(at(3), v).empty()) << "offline: not started";
  v[0].admin_offline = false;
  actions = sup.reconcile(at(4), v);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kStart);
}

TEST(WalSupervisorTest, ChangedSettingsRestartTheReceiver) {
  WalSupervisor sup(1);
  sup.set_wanted(0, "a");
  sup.started(0, 10, at(0));
  EXPECT_TRUE(sup.reconcile(at(1), views(1)).empty());
  sup.set_wanted(0, "b");
  auto actions = sup.reconcile(at(2), views(1));
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].why, "its settings changed");
  EXPECT_FALSE(sup.exited(0, at(3), -1).has_value());
  actions = sup.reconcile(at(3), views(1));
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kStart);
  sup.started(0, 11, at(3));
  EXPECT_TRUE(sup.reconcile(at(4), views(1)).empty()) << "now started with b";
}

TEST(WalSupervisorTest, FollowerTakesOverAfterTheGraceAndStepsBack) {
  WalSupervisor sup(2);
  auto v = views(2);
  v[1].follow = 0;
  v[0].streaming = true;
  auto actions = sup.reconcile(at(0), v);
  ASSERT_EQ(actions.size(), 1u) << "only the followed server starts";
  EXPECT_EQ(actions[0].index, 0u);
  sup.started(0, 10, at(0));
  v[0].streaming = false;  // the followed server stops streaming at 10 s
  EXPECT_TRUE(sup.reconcile(at(10), v).empty());
  EXPECT_TRUE(sup.reconcile(at(24), v).empty()) << "14 s quiet: still within the grace";
  actions = sup.reconcile(at(25), v);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].index, 1u);
  EXPECT_EQ(actions[0].kind, Kind::kStart);
  sup.started(1, 11, at(25));
  v[0].streaming = true;  // it streams again: the follower steps back
  actions = sup.reconcile(at(30), v);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kStop);
  EXPECT_EQ(actions[0].why, "the followed server streams again");
}

TEST(WalSupervisorTest, ShutDownStopsRunningReceiversAndStartsNone) {
  WalSupervisor sup(2);
  sup.started(0, 10, at(0));
  sup.shut_down();
  EXPECT_TRUE(sup.reconcile(at(1), views(2)).empty());
  EXPECT_FALSE(sup.exited(0, at(2), -1).has_value());
  EXPECT_TRUE(sup.reconcile(at(100), views(2)).empty());
}

TEST(WalSupervisorTest, FailedForkRetriesAfterTheDelay) {
  WalSupervisor sup(1);
  ASSERT_EQ(sup.reconcile(at(0), views(1)).size(), 1u);
  sup.start_failed(0, at(0));
  EXPECT_TRUE(sup.reconcile(at(0), views(1)).empty());
  EXPECT_EQ(sup.reconcile(at(1), views(1)).size(), 1u);
}

}  // namespace
}  // namespace pgm::daemon
