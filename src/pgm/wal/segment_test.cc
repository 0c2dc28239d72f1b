#include "pgm/wal/segment.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct NameCase {
  uint32_t tli;
  std::string lsn;
  uint64_t seg_size;
  std::string name;
};

TEST(SegmentTest, NamesSegmentsLikeXLogFileName) {
  const std::vector<NameCase> cases = {
      {1, "0/0", 16 * kMiB, "000000010000000000000000"},
      {1, "0/3000000", 16 * kMiB, "000000010000000000000003"},
      {1, "0/3FFFFFF", 16 * kMiB, "000000010000000000000003"},
      {1, "1/0", 16 * kMiB, "000000010000000100000000"},
      {1, "0/FFFFFFFF", 16 * kMiB, "0000000100000000000000FF"},
      {2, "16/B374D848", 16 * kMiB, "0000000200000016000000B3"},
      {1, "0/C000000", 64 * kMiB, "000000010000000000000003"},
      {1, "1/0", 64 * kMiB, "000000010000000100000000"},
      {1, "0/FFFFFFFF", 64 * kMiB, "00000001000000000000003F"},
      {3, "16/B374D848", 64 * kMiB, "00000003000000160000002C"},
      {1, "1/40000000", 1024 * kMiB, "000000010000000100000001"},
      {0xA, "0/300000", 1 * kMiB, "0000000A0000000000000003"},
  };
  for (const NameCase& c : cases) {
    SCOPED_TRACE(c.lsn + " " + std::to_string(c.seg_size));
    Lsn lsn = *Lsn::parse(c.lsn);
    EXPECT_EQ(segment_name(TimelineId(c.tli), lsn, c.seg_size), c.name);
    auto id = parse_segment_name(c.name, c.seg_size);
    ASSERT_TRUE(id) << id.error().message();
    EXPECT_EQ(id->tli, TimelineId(c.tli));
    EXPECT_EQ(id->segno, segment_number(lsn, c.seg_size));
    EXPECT_EQ(segment_start(id->segno, c.seg_size) + segment_offset(lsn, c.seg_size), lsn);
  }
}

TEST(SegmentTest, ComputesOffsetsAndNextSegment) {
  Lsn lsn = *Lsn::parse("0/3000010");
  EXPECT_EQ(segment_offset(lsn, 16 * kMiB), 0x10u);
  EXPECT_EQ(next_segment_start(lsn, 16 * kMiB), *Lsn::parse("0/4000000"));
  EXPECT_EQ(next_segment_start(*Lsn::parse("0/FF000000"), 16 * kMiB), *Lsn::parse("1/0"));
  EXPECT_EQ(segment_start(3, 64 * kMiB), *Lsn::parse("0/C000000"));
}

TEST(SegmentTest, RejectsBadSegmentNames) {
  const std::vector<std::pair<std::string, uint64_t>> bad = {
      {"000000010000000000000100", 16 * kMiB},   // low part above 0xFF
      {"000000010000000000000040", 64 * kMiB},   // low part above 0x3F
      {"00000001000000000000000a", 16 * kMiB},   // lower case
      {"00000001000000000000003", 16 * kMiB},    // 23 characters
      {"0000000100000000000000030", 16 * kMiB},  // 25 characters
      {"00000001000000000000000G", 16 * kMiB},
  };
  for (const auto& [name, seg_size] : bad) {
    SCOPED_TRACE(name);
    auto id = parse_segment_name(name, seg_size);
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(id.error().message().find(name), std::string::npos);
  }
}

TEST(SegmentTest, ValidatesSegmentSizes) {
  for (uint64_t size = kMiB; size <= 1024 * kMiB; size *= 2) {
    EXPECT_TRUE(is_valid_segment_size(size)) << size;
  }
  for (uint64_t size : {uint64_t{0}, kMiB / 2, 3 * kMiB, 2048 * kMiB, 16 * kMiB + 1}) {
    EXPECT_FALSE(is_valid_segment_size(size)) << size;
    EXPECT_FALSE(check_segment_size(size));
  }
}

TEST(SegmentTest, NamesHistoryFiles) {
  EXPECT_EQ(history_file_name(TimelineId(2)), "00000002.history");
  EXPECT_EQ(history_file_name(TimelineId(0x1A)), "0000001A.history");
}

struct ClassifyCase {
  std::string name;
  WalFileKind kind;
  compress::Algorithm compression;
  bool encrypted;
  uint32_t tli;
};

TEST(SegmentTest, ClassifiesDirectoryEntries) {
  using compress::Algorithm;
  const std::string seg = "000000020000000000000003";
  const std::vector<ClassifyCase> cases = {
      {seg, WalFileKind::kSegment, Algorithm::kNone, false, 2},
      {seg + ".gz", WalFileKind::kSegment, Algorithm::kGzip, false, 2},
      {seg + ".zstd", WalFileKind::kSegment, Algorithm::kZstd, false, 2},
      {seg + ".zst", WalFileKind::kSegment, Algorithm::kZstd, false, 2},
      {seg + ".lz4", WalFileKind::kSegment, Algorithm::kLz4, false, 2},
      {seg + ".bz2", WalFileKind::kSegment, Algorithm::kBzip2, false, 2},
      {seg + ".aes", WalFileKind::kSegment, Algorithm::kNone, true, 2},
      {seg + ".zstd.aes", WalFileKind::kSegment, Algorithm::kZstd, true, 2},
      {seg + ".partial", WalFileKind::kPartial, Algorithm::kNone, false, 2},
      {"0000000A.history", WalFileKind::kHistory, Algorithm::kNone, false, 10},
      {seg + ".aes.zstd", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {seg + ".zstd.tmp.123", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {seg + ".partial.zstd", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {seg + ".gz.zstd", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {"00000002000000000000000a", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {"0000002.history", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {".partial", WalFileKind::kOther, Algorithm::kNone, false, 0},
      {"backup_label", WalFileKind::kOther, Algorithm::kNone, false, 0},
  };
  for (const ClassifyCase& c : cases) {
    SCOPED_TRACE(c.name);
    WalFileInfo info = classify_wal_file(c.name);
    EXPECT_EQ(info.kind, c.kind);
    EXPECT_EQ(info.compression, c.compression);
    EXPECT_EQ(info.encrypted, c.encrypted);
    EXPECT_EQ(info.tli, TimelineId(c.tli));
    if (c.kind == WalFileKind::kSegment || c.kind == WalFileKind::kPartial) {
      EXPECT_EQ(info.base, seg);
    }
  }
}

}  // namespace
}  // namespace pgm::wal
