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

}  // namespace
}  // namespace pgm::backup
