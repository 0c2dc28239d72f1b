#include "pgm/backup/retention_job.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/backup/repository.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

// Records what retention asked of the remote copies; removal fails when told to.
class FakeRemote : public RemoteCopies {
 public:
  Result<void> remove_backup(const config::ServerConfig& /*server*/,
                             const std::string& label) override {
    asked.push_back(label);
    if (fail) {
      return make_error(ErrorCode::kIo, "engine down");
    }
    return {};
  }
  std::string oldest_unshipped_wal(const config::ServerConfig& /*server*/) override { return {}; }
  Result<size_t> prune_wal(const config::ServerConfig& /*server*/,
                           const std::string& /*oldest_segment*/) override {
    return size_t{0};
  }

  bool fail = false;
  std::vector<std::string> asked;
};

class RetentionJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.base_dir = tmp_.path();
    config::ServerConfig s;
    s.name = "primary";
    s.retention.days = 30;
    config_.servers.push_back(s);
    root_ = backup_root(config_.base_dir, "primary");
    for (const char* label : {"20200101000000", "20261201000000"}) {
      BackupInfo info;
      info.label = label;
      info.valid = true;
      ASSERT_TRUE(io::make_directories(root_ + "/" + label, 0700));
      ASSERT_TRUE(write_backup_info(root_ + "/" + label, info));
    }
  }

  void add(const char* label, const char* parent) {
    BackupInfo info;
    info.label = label;
    info.valid = true;
    info.parent = parent;
    ASSERT_TRUE(io::make_directories(root_ + "/" + label, 0700));
    ASSERT_TRUE(write_backup_info(root_ + "/" + label, info));
  }

  std::vector<std::string> labels() const {
    std::vector<std::string> out;
    auto entries = list_backups(root_);
    EXPECT_TRUE(entries);
    for (const BackupEntry& e : *entries) {
      out.push_back(e.label);
    }
    return out;
  }

  void run(FakeRemote& remote) {
    RetentionServer target{&config_.servers[0], &state_, 0};
    run_retention(config_, {&target, 1}, remote, *label_time("20261206000000"));
  }

  test_support::TempDir tmp_{"pgm-retention-job"};
  config::Config config_;
  std::string root_;
  activity::RepositoryState state_;
};

TEST_F(RetentionJobTest, RemovesRemoteCopiesBeforeTheLocalBackup) {
  FakeRemote remote;
  run(remote);
  EXPECT_EQ(remote.asked, std::vector<std::string>{"20200101000000"});
  EXPECT_EQ(labels(), std::vector<std::string>{"20261201000000"});
  EXPECT_FALSE(state_.active(activity::Activity::kRetention));
  EXPECT_EQ(state_.repository_owner(), 0);
}

TEST_F(RetentionJobTest, AFailedRemoteRemovalKeepsTheLocalBackup) {
  FakeRemote remote;
  remote.fail = true;
  run(remote);
  EXPECT_EQ(remote.asked, std::vector<std::string>{"20200101000000"});
  EXPECT_EQ(labels(), (std::vector<std::string>{"20200101000000", "20261201000000"}));
  EXPECT_FALSE(state_.active(activity::Activity::kRetention));
}

TEST_F(RetentionJobTest, SkipsABusyServer) {
  ASSERT_TRUE(state_.try_lock_repository(::getpid() + 1));
  FakeRemote remote;
  run(remote);
  EXPECT_TRUE(remote.asked.empty());
  EXPECT_EQ(labels().size(), 2u);
}

// An expired chain goes newest link first; a chain whose newest link is kept keeps its root.
TEST_F(RetentionJobTest, ExpiredChainsGoLeafFirstAndKeptChainsStayWhole) {
  add("20200102000000", "20200101000000");
  add("20200103000000", "20200102000000");
  add("20261101000000", "");
  add("20261202000000", "20261101000000");
  FakeRemote remote;
  run(remote);
  EXPECT_EQ(remote.asked,
            (std::vector<std::string>{"20200103000000", "20200102000000", "20200101000000"}));
  EXPECT_EQ(labels(),
            (std::vector<std::string>{"20261101000000", "20261201000000", "20261202000000"}));
}

// Cleanup removes only what is provably an incomplete backup of ours (no backup.info, or the
// provisional STATUS=0 one); a damaged backup.info beside intact data keeps the backup.
TEST_F(RetentionJobTest, ADamagedBackupInfoKeepsTheBackupAndOnlyIncompleteOnesGo) {
  config_.servers[0].retention.days = 3650;  // retention itself deletes nothing here
  const std::string damaged = root_ + "/20261203000000";
  const std::string elapsed = root_ + "/20261204000000";
  const std::string missing = root_ + "/20261205000000";
  const std::string provisional = root_ + "/20261205120000";
  for (const std::string& dir : {damaged, elapsed, missing, provisional}) {
    ASSERT_TRUE(io::make_directories(dir + "/data", 0700));
    ASSERT_TRUE(io::write_file_atomic(dir + "/data/PG_VERSION", "15\n", 0600));
  }
  BackupInfo info;
  info.label = "20261203000000";
  info.valid = true;
  ASSERT_TRUE(write_backup_info(damaged, info));
  auto text = io::read_file(damaged + "/backup.info");
  ASSERT_TRUE(text);
  ASSERT_TRUE(io::write_file_atomic(damaged + "/backup.info",
                                    *text + std::string("\x01garbage\xff\n", 10), 0600));
  info.label = "20261204000000";
  ASSERT_TRUE(write_backup_info(elapsed, info));
  text = io::read_file(elapsed + "/backup.info");
  ASSERT_TRUE(io::write_file_atomic(elapsed + "/backup.info", *text + "ELAPSED=abc\n", 0600));
  info.label = "20261205120000";
  info.valid = false;
  ASSERT_TRUE(write_backup_info(provisional, info));

  FakeRemote remote;
  run(remote);
  EXPECT_EQ(labels(), (std::vector<std::string>{"20200101000000", "20261201000000",
                                                "20261203000000", "20261204000000"}));
  EXPECT_TRUE(io::read_file(damaged + "/data/PG_VERSION"));
  EXPECT_TRUE(remote.asked.empty());
  // What list-backup says of them: the line and the reason, the garbage escaped.
  auto entries = list_backups(root_);
  ASSERT_TRUE(entries);
  for (const BackupEntry& e : *entries) {
    if (e.label == "20261203000000") {
      EXPECT_FALSE(e.valid());
      EXPECT_NE(e.problem.find("\\x01garbage\\xff"), std::string::npos) << e.problem;
      EXPECT_EQ(e.problem.find('\x01'), std::string::npos);
    }
    if (e.label == "20261204000000") {
      EXPECT_NE(e.problem.find("ELAPSED"), std::string::npos) << e.problem;
    }
  }
}

}  // namespace
}  // namespace pgm::backup
