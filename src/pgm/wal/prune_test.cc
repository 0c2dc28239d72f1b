#include "pgm/wal/prune.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace pgm::wal {
namespace {

constexpr uint64_t k1MiB = uint64_t{1} << 20;
constexpr uint64_t k16MiB = uint64_t{16} << 20;

using Names = std::set<std::string>;

class PruneTest : public ::testing::Test {
 protected:
  // Creates dir_/name holding `size` bytes.
  void touch(const std::string& name, size_t size = 0) {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    std::string data(size, 'w');
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  void touch_all(const Names& names) {
    for (const std::string& name : names) {
      touch(name);
    }
  }

  // The entries left in dir_.
  Names remaining() const {
    Names out;
    DIR* d = ::opendir(dir_.c_str());
    EXPECT_NE(d, nullptr);
    if (d == nullptr) {
      return out;
    }
    while (const dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): own DIR*
      std::string name = e->d_name;
      if (name != "." && name != "..") {
        out.insert(name);
      }
    }
    ::closedir(d);
    return out;
  }

  test_support::TempDir tmp_{"pgm-prune-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(PruneTest, RemovesOlderSegmentsOfEveryTimelineAndKeepsTheRest) {
  // Segment numbers 1..4 are older than 5 and go, whatever their timeline or suffix.
  const Names removed = {
      "000000010000000000000001",          "000000010000000000000001.gz",
      "000000010000000000000002.zstd",     "000000010000000000000002.zst.aes",
      "000000010000000000000003.lz4",      "000000010000000000000003.bz2.aes",
      "000000010000000000000004.aes",      "000000010000000000000004.gz.aes",
      "000000010000000000000004.partial",  "000000020000000000000003",
      "000000020000000000000004.zstd.aes", "000000020000000000000004.partial",
  };
  const Names kept = {
      // segment 5 (the boundary) and later, on both timelines
      "000000010000000000000005",
      "000000010000000000000005.gz",
      "000000010000000000000005.partial",
      "000000010000000000000006.lz4.aes",
      "000000020000000000000005.zstd",
      "000000020000000000000006.partial",
      "000000030000000100000000",
      // history files, even of old timelines
      "00000001.history",
      "00000002.history",
      // names classify_wal_file calls kOther
      "000000010000000000000001.tmp.1234",
      "000000010000000000000002.zstd.aes.tmp.77",
      "000000010000000000000002.gz.partial",
      "000000010000000000000003.aes.gz",
      "000000010000000000000003.00000028.backup",
      "00000001000000000000000a",
      "00000001000000000000003",
      "archive_status",
      "notes.txt",
  };
  touch_all(removed);
  touch_all(kept);
  touch("000000010000000000000002", 1000);
  touch("000000020000000000000002.partial", 234);
  touch("000000010000000000000005.aes", 4096);

  auto r = prune_wal(dir_, 5, k16MiB);
  ASSERT_TRUE(r) << r.error().message();

  Names expected_removed = removed;
  expected_removed.insert("000000010000000000000002");
  expected_removed.insert("000000020000000000000002.partial");
  Names expected_kept = kept;
  expected_kept.insert("000000010000000000000005.aes");

  EXPECT_EQ(remaining(), expected_kept);
  EXPECT_EQ(r->removed, expected_removed.size());
  EXPECT_EQ(r->bytes, 1234u);
  EXPECT_EQ(r->names, std::vector<std::string>(expected_removed.begin(), expected_removed.end()));
}

TEST_F(PruneTest, KeepsTheSegmentExactlyAtTheBoundary) {
  touch_all({"000000010000000000000009", "00000001000000000000000A",
             "00000001000000000000000A.partial", "00000002000000000000000B"});
  auto r = prune_wal(dir_, 10, k16MiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->names, std::vector<std::string>{"000000010000000000000009"});
  EXPECT_EQ(remaining(), (Names{"00000001000000000000000A", "00000001000000000000000A.partial",
                                "00000002000000000000000B"}));
}

TEST_F(PruneTest, SecondRunRemovesNothing) {
  touch_all({"000000010000000000000001", "000000010000000000000002"});
  auto first = prune_wal_before(dir_, "000000010000000000000002", k16MiB);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->removed, 1u);
  auto second = prune_wal_before(dir_, "000000010000000000000002", k16MiB);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->removed, 0u);
  EXPECT_EQ(second->bytes, 0u);
  EXPECT_TRUE(second->names.empty());
  EXPECT_EQ(remaining(), Names{"000000010000000000000002"});
}

TEST_F(PruneTest, MissingDirectoryIsNotAnError) {
  auto r = prune_wal(dir_ + "/absent/wal", 100, k16MiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(r->bytes, 0u);
  EXPECT_TRUE(r->names.empty());

  auto before = prune_wal_before(dir_ + "/absent", "000000010000000000000005", k1MiB);
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_EQ(before->removed, 0u);
}

TEST_F(PruneTest, EmptyDirectoryAndNothingOlder) {
  auto empty = prune_wal(dir_, 100, k16MiB);
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->removed, 0u);

  touch_all({"000000010000000000000005", "00000001.history"});
  auto none = prune_wal(dir_, 5, k16MiB);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->removed, 0u);
  EXPECT_EQ(remaining(), (Names{"000000010000000000000005", "00000001.history"}));
}

// 16 MiB: 256 segments per log id, so segment 256 is "...0000000100000000".
TEST_F(PruneTest, NamesFollowSixteenMiBSegments) {
  touch_all({"0000000100000000000000FE", "0000000100000000000000FF.gz",
             "000000020000000000000080.partial", "000000010000000100000000",
             "000000020000000100000000.zstd", "000000010000000100000001.partial"});
  auto r = prune_wal_before(dir_, "000000010000000100000000", k16MiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->names,
            (std::vector<std::string>{"0000000100000000000000FE", "0000000100000000000000FF.gz",
                                      "000000020000000000000080.partial"}));
  EXPECT_EQ(remaining(), (Names{"000000010000000100000000", "000000020000000100000000.zstd",
                                "000000010000000100000001.partial"}));
}

// 1 MiB: 4096 segments per log id; the same file name means another segment number.
TEST_F(PruneTest, NamesFollowOneMiBSegments) {
  touch_all({"0000000100000000000000FF", "000000010000000000000100",
             "000000010000000000000FFF.lz4.aes", "000000020000000000000FFF.partial",
             "000000010000000100000000", "000000010000000100000001"});
  auto r = prune_wal_before(dir_, "000000030000000100000000", k1MiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->names, (std::vector<std::string>{
                          "0000000100000000000000FF", "000000010000000000000100",
                          "000000010000000000000FFF.lz4.aes", "000000020000000000000FFF.partial"}));
  EXPECT_EQ(remaining(), (Names{"000000010000000100000000", "000000010000000100000001"}));
}

TEST_F(PruneTest, SegmentNumberAndNameAgree) {
  // Segment 4096 at 1 MiB is "...0000000100000000"; 4095 goes, 4096 stays.
  touch_all({"000000010000000000000FFF", "000000010000000100000000"});
  auto r = prune_wal(dir_, 4096, k1MiB);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(remaining(), Names{"000000010000000100000000"});
}

TEST_F(PruneTest, SegmentNameNotFittingTheSizeRemovesNothing) {
  // "...00000FFF" is a 1 MiB name; at 16 MiB the low part must be <= FF.
  const Names files = {"000000010000000000000001", "000000010000000000000FFF"};
  touch_all(files);
  auto r = prune_wal(dir_, 0x1000, k16MiB);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find(dir_ + "/000000010000000000000FFF"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(remaining(), files);
}

TEST_F(PruneTest, BadOldestSegmentNameIsInvalidArgument) {
  const Names files = {"000000010000000000000001", "000000010000000000000002"};
  touch_all(files);
  for (const char* bad :
       {"", "00000001000000000000005", "0000000100000000000000050", "00000001000000000000000a",
        "000000010000000000000005.partial", "000000010000000000000005.gz", "00000001.history",
        "00000001/0000005", "00000001000000000000000G", "000000010000000000000100"}) {
    SCOPED_TRACE(bad);
    auto r = prune_wal_before(dir_, bad, k16MiB);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(dir_), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(remaining(), files);
}

TEST_F(PruneTest, InvalidSegmentSizeIsInvalidArgument) {
  touch("000000010000000000000001");
  for (uint64_t size :
       {uint64_t{0}, uint64_t{1} << 19, (uint64_t{16} << 20) + 1, uint64_t{1} << 31}) {
    SCOPED_TRACE(size);
    auto r = prune_wal(dir_, 5, size);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    auto before = prune_wal_before(dir_, "000000010000000000000005", size);
    ASSERT_FALSE(before);
    EXPECT_EQ(before.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(remaining(), Names{"000000010000000000000001"});
}

TEST_F(PruneTest, UnlinkErrorNamesTheFileAndKeepsEarlierRemovals) {
  // A directory under a segment's name cannot be unlinked (EISDIR, even as root).
  touch_all({"000000010000000000000001", "000000010000000000000002.partial",
             "000000010000000000000004", "000000010000000000000009"});
  const std::string blocker = "000000010000000000000003";
  ASSERT_EQ(::mkdir((dir_ + "/" + blocker).c_str(), 0700), 0);

  auto r = prune_wal(dir_, 5, k16MiB);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  const std::string& message = r.error().message();
  EXPECT_NE(message.find("remove " + dir_ + "/" + blocker), std::string::npos) << message;
  EXPECT_NE(message.find("2 files removed before"), std::string::npos) << message;
  // Removal is in name order and stops at the error.
  EXPECT_EQ(remaining(), (Names{blocker, "000000010000000000000004", "000000010000000000000009"}));
}

}  // namespace
}  // namespace pgm::wal
