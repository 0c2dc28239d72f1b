#include "pgm/daemon/shared_state.h"

#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace pgm::daemon {
namespace {

TEST(SharedStateTest, RepositoryLockIsExclusiveAcrossProcesses) {
  auto seg = SharedSegment::create();
  ASSERT_TRUE(seg);
  ServerState& s = seg->state().servers[0];
  ASSERT_TRUE(s.try_lock_repository(::getpid()));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child sees the lock held and cannot take it; it publishes a probe result.
    bool took = s.try_lock_repository(::getpid());
    ServerSnapshot snap;
    snap.online = true;
    snap.version_num = 150018;
    snap.wal_level = "replica";
    s.publish(snap);
    ::_exit(took ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ServerSnapshot seen = s.snapshot();
  EXPECT_TRUE(seen.online);
  EXPECT_EQ(seen.major_version, 15);
  EXPECT_EQ(seen.minor_version, 18);
  EXPECT_EQ(seen.wal_level, "replica");
  s.unlock_repository(::getpid() + 1);  // not the owner: no effect
  EXPECT_EQ(s.repository_owner(), ::getpid());
  s.unlock_repository(::getpid());
  EXPECT_EQ(s.repository_owner(), 0);
}

TEST(SharedStateTest, MarkOfflineKeepsReasonBounded) {
  auto seg = SharedSegment::create();
  ASSERT_TRUE(seg);
  ServerState& s = seg->state().servers[1];
  s.mark_offline(std::string(2000, 'x'));
  ServerSnapshot snap = s.snapshot();
  EXPECT_FALSE(snap.online);
  EXPECT_EQ(snap.reason.size(), 511u);
}

}  // namespace
}  // namespace pgm::daemon
