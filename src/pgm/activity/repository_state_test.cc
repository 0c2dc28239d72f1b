#include "pgm/activity/repository_state.h"

#include <unistd.h>

#include <stdexcept>

#include <gtest/gtest.h>

namespace pgm::activity {
namespace {

bool idle(const RepositoryState& s) {
  for (Activity a : kActivities) {
    if (s.active(a)) {
      return false;
    }
  }
  return s.progress().phase == Phase::kIdle && s.activity_owner() == 0;
}

TEST(ActivityGuardTest, MarksFlagPhaseAndOwner) {
  RepositoryState s;
  {
    ActivityGuard g(s, Operation::kRestore, Phase::kStreaming, Activity::kRestore, 42);
    EXPECT_TRUE(s.active(Activity::kRestore));
    EXPECT_FALSE(s.active(Activity::kBackup));
    Progress p = s.progress();
    EXPECT_EQ(p.operation, Operation::kRestore);
    EXPECT_EQ(p.phase, Phase::kStreaming);
    EXPECT_EQ(p.total, 42u);
    EXPECT_GT(p.started_ms, 0);
    EXPECT_EQ(s.activity_owner(), ::getpid());
    g.set_progress(7, 50);
    EXPECT_EQ(s.progress().done, 7u);
    EXPECT_EQ(s.progress().total, 50u);
    g.set_phase(Phase::kFinishing);
    EXPECT_EQ(s.progress().phase, Phase::kFinishing);
  }
  EXPECT_TRUE(idle(s));
}

TEST(ActivityGuardTest, ClearsOnEarlyReturn) {
  RepositoryState s;
  auto run = [&s](bool leave_early) {
    ActivityGuard g(s, Operation::kBackup, Phase::kStarting, Activity::kBackup);
    if (leave_early) {
      return 1;
    }
    g.set_phase(Phase::kStreaming);
    return 0;
  };
  EXPECT_EQ(run(true), 1);
  EXPECT_TRUE(idle(s));
  EXPECT_EQ(run(false), 0);
  EXPECT_TRUE(idle(s));
}

TEST(ActivityGuardTest, ClearsOnException) {
  RepositoryState s;
  EXPECT_THROW(
      {
        ActivityGuard g(s, Activity::kRetention);
        EXPECT_TRUE(s.active(Activity::kRetention));
        throw std::runtime_error("boom");
      },
      std::runtime_error);
  EXPECT_TRUE(idle(s));
}

TEST(ActivityGuardTest, DropFlagKeepsProgress) {
  RepositoryState s;
  ActivityGuard g(s, Operation::kBackup, Phase::kStreaming, Activity::kBackup);
  g.drop_flag();
  g.set_phase(Phase::kUploading);
  EXPECT_FALSE(s.active(Activity::kBackup));
  EXPECT_EQ(s.progress().phase, Phase::kUploading);
  EXPECT_EQ(s.activity_owner(), ::getpid());
}

TEST(ActivityGuardTest, NestedGuardsClearOnlyTheirOwnMarks) {
  RepositoryState s;
  {
    ActivityGuard outer(s, Activity::kDelete);
    {
      ActivityGuard inner(s, Operation::kVerify, Phase::kVerifying);
      EXPECT_EQ(s.progress().phase, Phase::kVerifying);
    }
    EXPECT_TRUE(s.active(Activity::kDelete));
    EXPECT_EQ(s.progress().phase, Phase::kIdle);
    EXPECT_EQ(s.activity_owner(), ::getpid());
  }
  EXPECT_TRUE(idle(s));
}

TEST(RepositoryStateTest, ReleaseClearsOnlyThatPid) {
  RepositoryState s;
  ActivityGuard g(s, Operation::kArchive, Phase::kStreaming, Activity::kArchive);
  ASSERT_TRUE(s.try_lock_repository(::getpid()));
  s.release(::getpid() + 1);
  EXPECT_TRUE(s.active(Activity::kArchive));
  EXPECT_EQ(s.repository_owner(), ::getpid());
  s.release(::getpid());
  EXPECT_TRUE(idle(s));
  EXPECT_EQ(s.repository_owner(), 0);
}

TEST(RepositoryStateTest, RepositoryLockIsReleasedOnEveryPath) {
  RepositoryState s;
  {
    RepositoryLock lock(s);
    EXPECT_TRUE(lock.locked());
    RepositoryLock second(s);
    EXPECT_FALSE(second.locked());
  }
  EXPECT_EQ(s.repository_owner(), 0);
}

TEST(ActivityNamesTest, OneTableForEveryName) {
  EXPECT_EQ(phase_name(Phase::kIdle), "idle");
  EXPECT_EQ(phase_name(Phase::kUploading), "uploading");
  EXPECT_EQ(operation_name(Operation::kVerify), "verify");
  EXPECT_EQ(activity_name(Activity::kRetention), "retention");
  EXPECT_EQ(parse_operation("archive"), Operation::kArchive);
  EXPECT_EQ(parse_operation("delete"), std::nullopt);
  EXPECT_EQ(phase_of(99), Phase::kUploading);
  EXPECT_EQ(operation_of(-1), Operation::kBackup);
}

}  // namespace
}  // namespace pgm::activity
