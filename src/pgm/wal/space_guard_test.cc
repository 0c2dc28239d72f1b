// SpaceGuard with a fake free-space probe: when the receiver pauses for a full disk, when it
// resumes, and what it says.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pgm/wal/space_guard_internal.h"

namespace pgm::wal {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kSeg = uint64_t{16} << 20;

class SpaceGuardTest : public ::testing::Test {
 protected:
  SpaceGuard make(std::string finished_as, bool shipping = false) {
    std::vector<std::string> dirs{"/base/s/wal"};
    if (shipping) {
      dirs.emplace_back("/ship/s/wal");
    }
    SpaceGuard g(dirs, std::move(finished_as),
                 [this](const std::string& dir) -> std::optional<uint64_t> {
                   auto it = free_.find(dir);
                   if (it == free_.end()) {
                     return std::nullopt;
                   }
                   return it->second.load();
                 });
    g.set_segment_size(kSeg);
    return g;
  }
  void SetUp() override {
    free_["/base/s/wal"] = 0;
    free_["/ship/s/wal"] = 0;
  }
  std::map<std::string, std::atomic<uint64_t>> free_;  // entries made before any thread runs
};

TEST_F(SpaceGuardTest, PlainSegmentsNeedRoomForTheNextPartial) {
  SpaceGuard g = make("");
  free_["/base/s/wal"] = kSeg;
  EXPECT_EQ(g.check({}), std::nullopt);
  EXPECT_TRUE(g.may_resume({}));
  free_["/base/s/wal"] = kSeg - 1;
  EXPECT_EQ(g.check({}), "/base/s/wal");
  EXPECT_FALSE(g.may_resume({}));
}

TEST_F(SpaceGuardTest, CompressedSegmentsNeedRoomForTheCompressedFormToo) {
  SpaceGuard g = make("compressed");
  free_["/base/s/wal"] = 2 * kSeg - 1;
  EXPECT_EQ(g.check({}), "/base/s/wal");
  free_["/base/s/wal"] = 2 * kSeg;
  EXPECT_EQ(g.check({}), std::nullopt);
}

TEST_F(SpaceGuardTest, PausesWhenTooManySegmentsWaitForSpace) {
  SpaceGuard g = make("compressed");
  free_["/base/s/wal"] = 100 * kSeg;
  FinishBacklog b{3, 3, 2};
  EXPECT_EQ(g.check(b), std::nullopt) << "two waiting for space are within the bound";
  b.out_of_space = 3;
  EXPECT_EQ(g.check(b), "/base/s/wal");
  FinishBacklog other{5, 5, 0};  // failing for other reasons: no pause
  EXPECT_EQ(g.check(other), std::nullopt);
}

TEST_F(SpaceGuardTest, ResumesOnlyOnceNoSegmentWaitsForSpace) {
  SpaceGuard g = make("compressed");
  free_["/base/s/wal"] = 100 * kSeg;
  EXPECT_FALSE(g.may_resume(FinishBacklog{1, 1, 1}));
  EXPECT_TRUE(g.may_resume(FinishBacklog{1, 0, 0}));
}

TEST_F(SpaceGuardTest, TheShippingDirectoryCountsToo) {
  SpaceGuard g = make("", true);
  free_["/base/s/wal"] = 10 * kSeg;
  free_["/ship/s/wal"] = 1;
  EXPECT_EQ(g.check({}), "/ship/s/wal");
  EXPECT_FALSE(g.may_resume({}));
  EXPECT_EQ(g.directory_of(errno_error("allocate /ship/s/wal/x.partial", ENOSPC)), "/ship/s/wal");
  EXPECT_EQ(g.directory_of(Error(ErrorCode::kIo, "somewhere: No space left on device")),
            "/ship/s/wal")
      << "the fullest directory when the message names none";
  free_["/ship/s/wal"] = 10 * kSeg;
  EXPECT_TRUE(g.may_resume({}));
}

TEST_F(SpaceGuardTest, UnknownSegmentSizeOrSpaceNeverPauses) {
  SpaceGuard g({"/elsewhere"}, "compressed", [](const std::string&) { return std::nullopt; });
  EXPECT_EQ(g.check({}), std::nullopt);
  g.set_segment_size(kSeg);
  EXPECT_EQ(g.check({}), std::nullopt);
  EXPECT_TRUE(g.may_resume({}));
}

TEST_F(SpaceGuardTest, SaysWhatIsFullAndWhatWaits) {
  SpaceGuard g = make("compressed");
  free_["/base/s/wal"] = 5 << 20;
  EXPECT_EQ(g.paused_message("/base/s/wal", FinishBacklog{2, 2, 2}),
            "disk full in /base/s/wal (5 MB free): 2 segments waiting to be compressed, "
            "streaming paused");
  EXPECT_EQ(g.paused_message("/base/s/wal", FinishBacklog{1, 1, 1}),
            "disk full in /base/s/wal (5 MB free): 1 segment waiting to be compressed, "
            "streaming paused");
  SpaceGuard plain = make("");
  EXPECT_EQ(plain.paused_message("/base/s/wal", {}),
            "disk full in /base/s/wal (5 MB free): streaming paused");
  free_["/base/s/wal"] = uint64_t{3} << 30;
  EXPECT_EQ(g.resumed_message("/base/s/wal"),
            "disk space available again in /base/s/wal (3.0 GB free), streaming again");
}

TEST_F(SpaceGuardTest, WaitReturnsOnceSpaceIsBack) {
  SpaceGuard g = make("");
  std::atomic<bool> stop{false};
  int polls = 0;
  std::thread freer([this] {
    std::this_thread::sleep_for(milliseconds(50));
    free_["/base/s/wal"] = kSeg;
  });
  bool resumed = g.wait([] { return FinishBacklog{}; }, stop, milliseconds(0), milliseconds(5),
                        [&polls](const FinishBacklog&) { ++polls; });
  freer.join();
  EXPECT_TRUE(resumed);
  EXPECT_GT(polls, 1);
}

TEST_F(SpaceGuardTest, WaitWaitsAtLeastTheMinimumAndStopsWhenAsked) {
  SpaceGuard g = make("");
  free_["/base/s/wal"] = kSeg;
  std::atomic<bool> stop{false};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(g.wait([] { return FinishBacklog{}; }, stop, milliseconds(60), milliseconds(5), {}));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(60));

  free_["/base/s/wal"] = 0;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(milliseconds(30));
    stop = true;
  });
  EXPECT_FALSE(g.wait([] { return FinishBacklog{}; }, stop, milliseconds(0), milliseconds(5), {}));
  stopper.join();
}

}  // namespace
}  // namespace pgm::wal
