#include "pgm/daemon/shared_state.h"

#include <signal.h>
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

// A child SIGKILLed in the middle of an operation runs no destructor: its marks stay in the
// segment until the parent releases them by pid; another process's marks stay.
TEST(SharedStateTest, ChildKilledMidOperationLeavesNoFlagSet) {
  auto seg = SharedSegment::create();
  ASSERT_TRUE(seg);
  SharedState& shared = seg->state();
  ServerState& busy = shared.servers[0];
  ServerState& other = shared.servers[1];
  activity::ActivityGuard mine(other, activity::Operation::kVerify, activity::Phase::kVerifying);
  ASSERT_TRUE(other.try_lock_repository(::getpid()));

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    bool locked = busy.try_lock_repository(::getpid());
    activity::ActivityGuard guard(busy, activity::Operation::kBackup, activity::Phase::kStreaming,
                                  activity::Activity::kBackup);
    char byte = locked ? 1 : 0;
    (void)!::write(ready[1], &byte, 1);
    for (;;) {
      ::pause();  // killed here, with the guard alive
    }
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(byte, 1);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  // What the dead child left behind.
  EXPECT_TRUE(busy.active(activity::Activity::kBackup));
  EXPECT_EQ(busy.progress().phase, activity::Phase::kStreaming);
  EXPECT_EQ(busy.repository_owner(), child);

  shared.release(child);
  EXPECT_FALSE(busy.active(activity::Activity::kBackup));
  EXPECT_EQ(busy.progress().phase, activity::Phase::kIdle);
  EXPECT_EQ(busy.activity_owner(), 0);
  EXPECT_EQ(busy.repository_owner(), 0);
  // The parent's own operation on another server is untouched.
  EXPECT_EQ(other.progress().phase, activity::Phase::kVerifying);
  EXPECT_EQ(other.progress().operation, activity::Operation::kVerify);
  EXPECT_EQ(other.activity_owner(), ::getpid());
  EXPECT_EQ(other.repository_owner(), ::getpid());
  other.unlock_repository(::getpid());
}

}  // namespace
}  // namespace pgm::daemon
