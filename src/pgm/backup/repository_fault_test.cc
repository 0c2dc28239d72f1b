// The catalog's durability contract (repository.h) under injected faults: backup.info is
// replaced atomically (temp, fsync, rename, directory fsync) and never left half-written;
// a corrupt backup.sha512 fails before backup.info is touched; an unreadable backup.info
// marks one entry, not the whole listing.
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/fault_file_system.h"
#include "support/temp_dir.h"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgm/backup/repository.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

using test_support::FaultFileSystem;
using Op = FaultFileSystem::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kLabel = "20240101120000";

class RepositoryFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(io::make_directories(dir_, 0700));
    old_.label = kLabel;
    old_.valid = true;
    old_.backup_size = 1;
    ASSERT_TRUE(write_backup_info(dir_, old_));
    next_ = old_;
    next_.keep = true;
    next_.comments = "why|" + std::string(5000, 'x');  // bigger than one short write
  }
  std::string info_path() const { return dir_ + "/backup.info"; }
  std::string temp(const std::string& path) const {
    return path + ".tmp." + std::to_string(::getpid());
  }
  std::vector<std::string> names() const { return *io::list_directory(dir_); }
  // backup.info holds exactly the old record.
  void expect_old_info() {
    auto info = read_backup_info(dir_);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(*info, old_);
  }

  test_support::TempDir tmp_{"pgm-catalog-fault"};
  std::string root_ = tmp_.path();
  std::string dir_ = root_ + "/" + kLabel;
  BackupInfo old_;
  BackupInfo next_;
  FaultFileSystem fs_;
};

TEST_F(RepositoryFaultTest, WriteRenamesOverTheOldInfoAndThenSyncsTheDirectory) {
  ASSERT_TRUE(write_backup_info(dir_, next_, fs_));
  std::vector<std::string> tail;
  for (const std::string& c : fs_.calls()) {
    if (c.rfind("rename ", 0) == 0 || c.rfind("fsync ", 0) == 0) {
      tail.push_back(c);
    }
  }
  EXPECT_THAT(tail,
              ElementsAre("fsync " + temp(info_path()),
                          "rename " + temp(info_path()) + " " + info_path(), "fsync " + dir_));
  EXPECT_EQ(*read_backup_info(dir_), next_);
}

TEST_F(RepositoryFaultTest, DiskFullNeverLeavesAHalfWrittenInfo) {
  for (size_t budget : {size_t{0}, size_t{10}, size_t{4096}}) {
    SCOPED_TRACE(budget);
    FaultFileSystem fs;
    fs.disk_full_after(budget);
    auto r = write_backup_info(dir_, next_, fs);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
    expect_old_info();
    EXPECT_THAT(names(), ElementsAre("backup.info"));
  }
}

TEST_F(RepositoryFaultTest, FailingFsyncOrRenameKeepsTheOldInfo) {
  for (Op op : {Op::kFsync, Op::kRename, Op::kClose}) {
    FaultFileSystem fs;
    fs.fail(op, 1, EIO);
    auto r = write_backup_info(dir_, next_, fs);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message(), HasSubstr(info_path()));
    expect_old_info();
    EXPECT_THAT(names(), ElementsAre("backup.info"));
  }
}

TEST_F(RepositoryFaultTest, ShortWritesStillWriteTheWholeInfo) {
  fs_.short_writes(7);
  ASSERT_TRUE(write_backup_info(dir_, next_, fs_));
  EXPECT_EQ(*read_backup_info(dir_), next_);
}

TEST_F(RepositoryFaultTest, CorruptShaListFailsBeforeTheInfoIsTouched) {
  ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.sha512", "not a sha512 line\n", 0600));
  auto r = write_backup_info(dir_, next_, fs_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_THAT(fs_.calls("open " + temp(info_path())), IsEmpty());
  EXPECT_THAT(fs_.calls("rename"), IsEmpty());
  expect_old_info();
}

TEST_F(RepositoryFaultTest, FailingShaListWriteLeavesBothFilesWhole) {
  const std::string sha_path = dir_ + "/backup.sha512";
  const std::string sha_text = std::string(128, 'a') + " *./data/x\n";
  ASSERT_TRUE(io::write_file_atomic(sha_path, sha_text, 0600));
  fs_.fail(Op::kWrite, 1, ENOSPC, "backup.sha512");
  auto r = write_backup_info(dir_, next_, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr(temp(sha_path)));
  // backup.info was already replaced (complete); backup.sha512 is the old, whole list.
  EXPECT_EQ(*read_backup_info(dir_), next_);
  EXPECT_EQ(*io::read_file(sha_path), sha_text);
  EXPECT_THAT(names(), ElementsAre("backup.info", "backup.sha512"));
}

TEST_F(RepositoryFaultTest, UnreadableInfoMarksOneEntryNotTheList) {
  const std::string other = root_ + "/20240102120000";
  ASSERT_TRUE(io::make_directories(other, 0700));
  BackupInfo second = old_;
  second.label = "20240102120000";
  ASSERT_TRUE(write_backup_info(other, second));
  fs_.fail(Op::kRead, 1, EIO, dir_ + "/backup.info");
  auto list = list_backups(root_, fs_);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_FALSE((*list)[0].info.has_value());
  EXPECT_THAT((*list)[0].problem, HasSubstr("Input/output error"));
  EXPECT_TRUE((*list)[1].valid());
}

TEST_F(RepositoryFaultTest, UnreadableRootFailsTheList) {
  fs_.fail(Op::kList, 1, EIO);
  auto list = list_backups(root_, fs_);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), ErrorCode::kIo);
  EXPECT_THAT(list.error().message(), HasSubstr(root_));
}

TEST_F(RepositoryFaultTest, FailingReadNamesTheInfoFile) {
  fs_.fail(Op::kRead, 1, EIO);
  auto info = read_backup_info(dir_, fs_);
  ASSERT_FALSE(info);
  EXPECT_THAT(info.error().message(), HasSubstr("read " + info_path()));
}

}  // namespace
}  // namespace pgm::backup
