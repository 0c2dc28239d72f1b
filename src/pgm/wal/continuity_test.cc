#include "pgm/wal/continuity.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

constexpr uint64_t kSeg = kDefaultSegmentSize;

TEST(ContinuityTest, ClassifiesSegmentFilesOnly) {
  StoredSegments s = classify_segments(
      {"000000010000000000000003.zstd.aes", "00000002.history", "000000010000000000000002", "junk",
       "000000010000000000000004.partial", "0000000100000000000001FF"},
      kSeg);
  ASSERT_EQ(s.complete.size(), 2U);
  EXPECT_EQ(s.complete[0].name, "000000010000000000000002");
  EXPECT_EQ(s.complete[1].name, "000000010000000000000003.zstd.aes");
  ASSERT_EQ(s.partial.size(), 1U);
  EXPECT_EQ(s.partial[0].id.segno, 4U);
}

TEST(ContinuityTest, ContiguousSegmentsHaveNoGap) {
  StoredSegments s = classify_segments({"000000010000000000000001", "000000010000000000000002.gz",
                                        "000000010000000000000003.partial"},
                                       kSeg);
  EXPECT_EQ(first_missing_segment(s, 1, TimelineId(1), kSeg), std::nullopt);
  // What lies before the oldest backup's first segment does not count.
  EXPECT_EQ(first_missing_segment(s, 2, TimelineId(1), kSeg), std::nullopt);
}

TEST(ContinuityTest, NamesTheFirstMissingSegment) {
  StoredSegments s = classify_segments(
      {"000000010000000000000001", "000000010000000000000004", "000000010000000000000006.partial"},
      kSeg);
  EXPECT_EQ(first_missing_segment(s, 1, TimelineId(1), kSeg), "000000010000000000000002");
  // The oldest backup's first segment itself missing.
  EXPECT_EQ(first_missing_segment(s, 0, TimelineId(1), kSeg), "000000010000000000000000");
  EXPECT_EQ(first_missing_segment(s, 4, TimelineId(1), kSeg), "000000010000000000000005");
}

TEST(ContinuityTest, FollowsATimelineSwitch) {
  // Timeline 2 began in segment 3: that segment exists on both timelines.
  StoredSegments s =
      classify_segments({"000000010000000000000002", "000000010000000000000003.partial",
                         "000000020000000000000003", "000000020000000000000005"},
                        kSeg);
  EXPECT_EQ(first_missing_segment(s, 2, TimelineId(1), kSeg), "000000020000000000000004");
}

TEST(ContinuityTest, NothingStoredIsNoGap) {
  StoredSegments s = classify_segments({"000000010000000000000001"}, kSeg);
  EXPECT_EQ(first_missing_segment(s, 5, TimelineId(1), kSeg), std::nullopt);
  EXPECT_EQ(first_missing_segment(StoredSegments{}, 0, TimelineId(1), kSeg), std::nullopt);
}

}  // namespace
}  // namespace pgm::wal
