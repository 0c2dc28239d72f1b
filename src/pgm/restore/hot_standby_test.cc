#include "pgm/restore/hot_standby.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/io/file.h"
#include "pgm/restore/stored_backup_fixture.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) {
  auto text = io::read_file(path);
  return text ? *text : std::string("<unreadable>");
}

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ReplaceDirectoryTest, PutsTheStagedDirectoryInPlaceAndRemovesTheOld) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(target + "/a", "old");
  write(target + kNewSuffix + "/a", "new");
  ASSERT_TRUE(replace_directory(target + kNewSuffix, target).has_value());
  EXPECT_EQ(read(target + "/a"), "new");
  EXPECT_FALSE(fs::exists(target + kNewSuffix));
  EXPECT_FALSE(fs::exists(target + kOldSuffix));
}

TEST(ReplaceDirectoryTest, AMissingTargetIsCreatedByTheRename) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(target + kNewSuffix + "/a", "new");
  ASSERT_TRUE(replace_directory(target + kNewSuffix, target).has_value());
  EXPECT_EQ(read(target + "/a"), "new");
}

TEST(ReplaceDirectoryTest, TheOldTreeGoesWithoutFollowingItsLinks) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(tmp.path() + "/tablespace/f", "keep");
  write(target + "/a", "old");
  fs::create_directory_symlink(tmp.path() + "/tablespace", target + "/ts");
  write(target + kNewSuffix + "/a", "new");
  ASSERT_TRUE(replace_directory(target + kNewSuffix, target).has_value());
  EXPECT_EQ(read(tmp.path() + "/tablespace/f"), "keep");
}

TEST(ReplaceLeftoversTest, AnUnfinishedNewCopyIsRemovedTheCopyKept) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(target + "/a", "old");
  write(target + kNewSuffix + "/a", "half");
  EXPECT_TRUE(clear_replace_leftovers(target));
  EXPECT_EQ(read(target + "/a"), "old");
  EXPECT_FALSE(fs::exists(target + kNewSuffix));
  EXPECT_FALSE(clear_replace_leftovers(target));
}

TEST(ReplaceLeftoversTest, AnOldCopyIsPutBackWhenTheSwapStoppedBetweenItsRenames) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(target + kOldSuffix + "/a", "old");
  write(target + kNewSuffix + "/a", "new, not synced yet");
  EXPECT_TRUE(clear_replace_leftovers(target));
  EXPECT_EQ(read(target + "/a"), "old");
  EXPECT_FALSE(fs::exists(target + kOldSuffix));
  EXPECT_FALSE(fs::exists(target + kNewSuffix));
}

TEST(ReplaceLeftoversTest, AnOldCopyBesideAFinishedSwapIsRemoved) {
  pgm::test_support::TempDir tmp("pgm-hs");
  const std::string target = tmp.path() + "/copy";
  write(target + "/a", "new");
  write(target + kOldSuffix + "/a", "old");
  EXPECT_TRUE(clear_replace_leftovers(target));
  EXPECT_EQ(read(target + "/a"), "new");
  EXPECT_FALSE(fs::exists(target + kOldSuffix));
}

TEST(StandbyTablespaceTest, MappedByOidNameOrPathElsePgmonetasDefault) {
  const std::vector<StandbyTablespace> pairs = {
      {"16390", "/a"}, {"tblspc_ts2", "/b"}, {"/srv/ts3", "/c"}, {"ts4", "/d"}};
  EXPECT_EQ(standby_tablespace_dir(pairs, 0, "16390", "tblspc_ts1", "/srv/ts1"), "/a");
  EXPECT_EQ(standby_tablespace_dir(pairs, 0, "16391", "tblspc_ts2", "/srv/ts2"), "/b");
  EXPECT_EQ(standby_tablespace_dir(pairs, 0, "16392", "tblspc_ts3", "/srv/ts3/"), "/c");
  EXPECT_EQ(standby_tablespace_dir(pairs, 0, "16393", "tblspc_ts4", "/srv/ts4"), "/d");
  EXPECT_EQ(standby_tablespace_dir({}, 0, "16394", "tblspc_x", "/x/ts"), "/x/tshs");
  EXPECT_EQ(standby_tablespace_dir({}, 1, "16394", "tblspc_x", "/x/ts/"), "/x/tshs2");
}

class HotStandbyTest : public test_support::StoredBackupTest {
 protected:
  HotStandbyOptions options() {
    HotStandbyOptions o;
    o.backup_dir = dir_;
    o.info = info_;
    o.key = &key_;
    o.workers = 2;
    o.server = "primary";
    o.directory = tmp_ + "/standby";
    return o;
  }
  std::string copy() const { return tmp_ + "/standby/primary"; }
};

TEST_F(HotStandbyTest, TheSecondUpdateWritesOnlyWhatChanged) {
  ASSERT_NO_FATAL_FAILURE(build(test_support::kZstd));
  auto first = update_hot_standby(options());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->copy, copy());
  EXPECT_EQ(first->written_files, 7u);
  EXPECT_EQ(first->reused_files, 0u);
  EXPECT_EQ(read(copy() + "/base/1/1259"), test_support::content(300 << 10, 3));
  EXPECT_TRUE(fs::exists(copy() + "/global/pg_control"));
  EXPECT_TRUE(fs::exists(copy() + "/" + kRecordFile));

  // PostgreSQL ran on the copy and changed one file: that one is written again.
  write(copy() + "/base/1/1249", "changed by PostgreSQL");
  auto second = update_hot_standby(options());
  ASSERT_TRUE(second.has_value()) << second.error().message();
  // PG_VERSION, base/1/1259, base/1/2619 and the WAL segment are linked; backup_label,
  // base/1/1249 and pg_control written.
  EXPECT_EQ(second->reused_files, 4u);
  EXPECT_EQ(second->written_files, 3u);
  EXPECT_LT(second->written_bytes, first->written_bytes);
  EXPECT_EQ(read(copy() + "/base/1/1249"), test_support::content(40 << 10, 4));
  EXPECT_EQ(read(copy() + "/base/1/1259"), test_support::content(300 << 10, 3));
  EXPECT_FALSE(fs::exists(copy() + kNewSuffix));
  EXPECT_FALSE(fs::exists(copy() + kOldSuffix));
}

TEST_F(HotStandbyTest, OverridesGoOverTheCopyWithoutTouchingTheOldOnesFiles) {
  ASSERT_NO_FATAL_FAILURE(build(test_support::kZstd));
  ASSERT_TRUE(update_hot_standby(options()).has_value());
  // A hard link to the first copy's PG_VERSION, as a reader could hold it.
  const std::string held = tmp_ + "/held";
  ASSERT_EQ(::link((copy() + "/PG_VERSION").c_str(), held.c_str()), 0);
  write(tmp_ + "/overrides/PG_VERSION", "override");
  write(tmp_ + "/overrides/conf.d/extra.conf", "port = 6543\n");
  HotStandbyOptions o = options();
  o.overrides = tmp_ + "/overrides";
  auto r = update_hot_standby(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->override_files, 2u);
  EXPECT_EQ(read(copy() + "/PG_VERSION"), "override");
  EXPECT_EQ(read(copy() + "/conf.d/extra.conf"), "port = 6543\n");
  EXPECT_EQ(read(held), test_support::content(3, 1));
}

TEST_F(HotStandbyTest, AFailedUpdateLeavesThePreviousCopy) {
  ASSERT_NO_FATAL_FAILURE(build(test_support::kZstd));
  ASSERT_TRUE(update_hot_standby(options()).has_value());
  write(stored("base/1/2619"), "damaged");
  fs::remove(copy() + "/" + kRecordFile);  // else the damaged file is linked, never read
  auto r = update_hot_standby(options());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(read(copy() + "/base/1/2619"), test_support::content(120 << 10, 5));
  EXPECT_FALSE(fs::exists(copy() + kNewSuffix));
}

TEST_F(HotStandbyTest, ACopyInUseByARunningPostgresqlIsNotReplaced) {
  ASSERT_NO_FATAL_FAILURE(build(test_support::kZstd));
  ASSERT_TRUE(update_hot_standby(options()).has_value());
  write(copy() + "/postmaster.pid", std::to_string(::getpid()) + "\n");
  auto r = update_hot_standby(options());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("running PostgreSQL"), std::string::npos);
}

TEST_F(HotStandbyTest, LeftoversOfAKilledUpdateAreClearedFirst) {
  ASSERT_NO_FATAL_FAILURE(build(test_support::kZstd));
  write(copy() + kNewSuffix + "/half", "x");
  auto r = update_hot_standby(options());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_FALSE(fs::exists(copy() + "/half"));
  EXPECT_FALSE(fs::exists(copy() + kNewSuffix));
}

}  // namespace
}  // namespace pgm::restore
