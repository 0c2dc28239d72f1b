// AtomicFile's durability contract under injected faults: whatever step fails, the old file
// stays intact, no temp file is left behind, and the error names the file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "support/fault_file_system.h"
#include "support/temp_dir.h"
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgm/io/file.h"

namespace pgm::io {
namespace {

using test_support::FaultFileSystem;
using Op = FaultFileSystem::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AtomicFileFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(write_file_atomic(path_, "old", 0600)); }

  // The directory holds only the target: no temp file survived.
  void expect_only_target() {
    auto names = list_directory(dir_.path());
    ASSERT_TRUE(names);
    EXPECT_THAT(*names, ElementsAre("f"));
  }
  std::string temp() const { return path_ + ".tmp." + std::to_string(::getpid()); }

  test_support::TempDir dir_{"pgm-atomic-fault"};
  std::string path_ = dir_.file("f");
  FaultFileSystem fs_;
};

TEST_F(AtomicFileFaultTest, FailingWriteKeepsOldFileAndRemovesTemp) {
  fs_.fail(Op::kWrite, 1, ENOSPC);
  auto r = write_file_atomic(path_, "new", 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_THAT(r.error().message(), HasSubstr("write " + temp()));
  EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
  EXPECT_TRUE(fs_.calls("rename").empty());
}

TEST_F(AtomicFileFaultTest, DiskFillingUpMidWriteKeepsOldFile) {
  fs_.disk_full_after(10);  // the first write is short, the next one gets ENOSPC
  auto r = write_file_atomic(path_, std::string(100, 'x'), 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("No space left on device"));
  EXPECT_EQ(fs_.calls("write").size(), 2u);
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, ShortWritesAreCompleted) {
  fs_.short_writes(3);
  ASSERT_TRUE(write_file_atomic(path_, "a longer new content", 0600, fs_));
  EXPECT_EQ(*read_file(path_), "a longer new content");
  EXPECT_EQ(fs_.calls("write").size(), 7u);  // 20 bytes, 3 at a time
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, FailingFsyncKeepsOldFileAndNeverRenames) {
  fs_.fail(Op::kFsync, 1, EIO, temp());
  auto r = write_file_atomic(path_, "new", 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("fsync " + temp()));
  EXPECT_THAT(r.error().message(), HasSubstr("Input/output error"));
  EXPECT_TRUE(fs_.calls("rename").empty());
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, FailingCloseKeepsOldFile) {
  fs_.fail(Op::kClose, 1, EIO, temp());
  auto r = write_file_atomic(path_, "new", 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("close " + temp()));
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, FailingRenameKeepsOldFileAndRemovesTemp) {
  fs_.fail(Op::kRename, 1, EXDEV);
  auto r = write_file_atomic(path_, "new", 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("rename " + temp() + " to " + path_));
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, FailingChmodRemovesTemp) {
  fs_.fail(Op::kFchmod, 1, EPERM);
  auto r = AtomicFile::create(path_, 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermission);
  EXPECT_THAT(r.error().message(), HasSubstr("chmod " + temp()));
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, FailingDirectoryFsyncIsReportedAfterTheRename) {
  fs_.fail(Op::kFsync, 2, EIO);  // the first fsync is the temp file's, the second the directory's
  auto r = write_file_atomic(path_, "new", 0600, fs_);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("fsync directory " + dir_.path()));
  // The rename happened: the new file is complete; only its durability is in doubt.
  EXPECT_EQ(*read_file(path_), "new");
  expect_only_target();
}

TEST_F(AtomicFileFaultTest, CommitWritesFsyncsRenamesThenFsyncsTheDirectory) {
  ASSERT_TRUE(write_file_atomic(path_, "new", 0600, fs_));
  EXPECT_THAT(fs_.calls(),
              ElementsAre("open " + temp(), "fchmod " + temp(), "write " + temp(),
                          "fsync " + temp(), "close " + temp(), "rename " + temp() + " " + path_,
                          "open " + dir_.path(), "fsync " + dir_.path()));
  EXPECT_EQ(*read_file(path_), "new");
}

TEST_F(AtomicFileFaultTest, AbandonedFileLeavesOldContentAndNoTemp) {
  {
    auto f = AtomicFile::create(path_, 0600, fs_);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("abandoned"));
  }
  EXPECT_EQ(*read_file(path_), "old");
  expect_only_target();
  EXPECT_TRUE(fs_.calls("rename").empty());
}

}  // namespace
}  // namespace pgm::io
