#include "pgm/incremental/format.h"

#include <cstring>

#include <gtest/gtest.h>

namespace pgm::incremental {
namespace {

uint32_t word_at(const std::vector<uint8_t>& bytes, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

TEST(IncrementalFormat, EmptyFileIsTwelveBytes) {
  const Header header{.truncation_block_length = 7, .blocks = {}};
  auto bytes = encode_header(header);
  ASSERT_TRUE(bytes) << bytes.error().message();
  ASSERT_EQ(bytes->size(), 12u);
  EXPECT_EQ(word_at(*bytes, 0), 0xd3ae1f0du);
  EXPECT_EQ(word_at(*bytes, 4), 0u);
  EXPECT_EQ(word_at(*bytes, 8), 7u);
  EXPECT_EQ(header.file_size(), 12u);
}

TEST(IncrementalFormat, HeaderWithBlocksIsPaddedToABlock) {
  const Header header{.truncation_block_length = 100, .blocks = {3, 9, 42}};
  auto bytes = encode_header(header);
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 8192u);
  EXPECT_EQ(word_at(*bytes, 4), 3u);
  EXPECT_EQ(word_at(*bytes, 12), 3u);
  EXPECT_EQ(word_at(*bytes, 16), 9u);
  EXPECT_EQ(word_at(*bytes, 20), 42u);
  for (size_t i = 24; i < bytes->size(); ++i) {
    ASSERT_EQ((*bytes)[i], 0) << i;
  }
  EXPECT_EQ(header.file_size(), 4u * 8192u);
}

TEST(IncrementalFormat, HeaderSizeCrossesBlockBoundaries) {
  EXPECT_EQ(header_size(0), 12u);
  EXPECT_EQ(header_size(1), 8192u);
  EXPECT_EQ(header_size(2045), 8192u);  // 12 + 4 * 2045 = 8192 exactly
  EXPECT_EQ(header_size(2046), 16384u);
  EXPECT_EQ(header_size(kSegmentBlocks), 12u + 4u * kSegmentBlocks + 8180u);
}

TEST(IncrementalFormat, ReconstructedLengthCoversTheHighestBlock) {
  EXPECT_EQ((Header{.truncation_block_length = 10, .blocks = {2, 4}}).reconstructed_length(), 10u);
  EXPECT_EQ((Header{.truncation_block_length = 3, .blocks = {2, 7}}).reconstructed_length(), 8u);
  EXPECT_EQ((Header{.truncation_block_length = 0, .blocks = {}}).reconstructed_length(), 0u);
}

TEST(IncrementalFormat, EncodeRefusesUnsortedOrOversizedHeaders) {
  EXPECT_FALSE(encode_header(Header{.truncation_block_length = 9, .blocks = {5, 5}}));
  EXPECT_FALSE(encode_header(Header{.truncation_block_length = 9, .blocks = {6, 5}}));
  EXPECT_FALSE(encode_header(Header{.truncation_block_length = 9, .blocks = {kSegmentBlocks}}));
  EXPECT_FALSE(encode_header(Header{.truncation_block_length = kSegmentBlocks + 1, .blocks = {}}));
  EXPECT_TRUE(encode_header(
      Header{.truncation_block_length = kSegmentBlocks, .blocks = {kSegmentBlocks - 1}}));
}

TEST(IncrementalFormat, RoundTripsWholeAndByteByByte) {
  Header header{.truncation_block_length = 4000, .blocks = {}};
  for (uint32_t b = 0; b < 3000; b += 1) {
    header.blocks.push_back(b);
  }
  auto bytes = encode_header(header);
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 16384u);
  bytes->push_back(0xAB);  // the first byte of block data

  auto whole = parse_header(*bytes, "f");
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(*whole, header);

  HeaderReader reader("f");
  size_t consumed = 0;
  for (size_t i = 0; i < bytes->size() && !reader.done(); ++i) {
    auto taken = reader.feed(std::span<const uint8_t>(&(*bytes)[i], 1));
    ASSERT_TRUE(taken) << taken.error().message();
    consumed += *taken;
  }
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(consumed, 16384u);
  EXPECT_EQ(reader.header(), header);
  // Once done it takes nothing more: the rest is block data.
  auto after = reader.feed(std::span<const uint8_t>(&bytes->back(), 1));
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 0u);
}

TEST(IncrementalFormat, DamagedHeadersNameTheFile) {
  auto good = encode_header(Header{.truncation_block_length = 20, .blocks = {1, 2}});
  ASSERT_TRUE(good);

  auto bad_magic = *good;
  bad_magic[0] ^= 1;
  auto r1 = parse_header(bad_magic, "base/5/INCREMENTAL.16384");
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r1.error().message().find("base/5/INCREMENTAL.16384"), std::string::npos);
  EXPECT_NE(r1.error().message().find("magic"), std::string::npos);

  auto unsorted = *good;
  std::swap(unsorted[12], unsorted[16]);
  EXPECT_FALSE(parse_header(unsorted, "f"));

  auto dirty_padding = *good;
  dirty_padding[100] = 1;
  auto r2 = parse_header(dirty_padding, "f");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("padding"), std::string::npos);

  auto huge_count = *good;
  const uint32_t count = kSegmentBlocks + 1;
  std::memcpy(huge_count.data() + 4, &count, 4);
  EXPECT_FALSE(parse_header(huge_count, "f"));

  auto huge_truncation = *good;
  std::memcpy(huge_truncation.data() + 8, &count, 4);
  EXPECT_FALSE(parse_header(huge_truncation, "f"));

  auto r3 = parse_header(std::span<const uint8_t>(good->data(), 100), "f");
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message().find("truncated"), std::string::npos);
}

TEST(IncrementalFormat, FileSizeMustMatchTheHeaderExactly) {
  const Header header{.truncation_block_length = 20, .blocks = {1, 2}};
  EXPECT_TRUE(check_file_size(header, 3 * 8192, "f"));
  // pgmoneta's 14-16 writer shifts block data by 9 + 3n bytes.
  auto shifted = check_file_size(header, 3 * 8192 - 15, "f");
  ASSERT_FALSE(shifted);
  EXPECT_EQ(shifted.error().code(), ErrorCode::kCorruption);
  EXPECT_FALSE(check_file_size(header, 3 * 8192 + 8192, "f"));
  EXPECT_TRUE(check_file_size(Header{.truncation_block_length = 0, .blocks = {}}, 12, "f"));
}

TEST(IncrementalFormat, RelationPathsAsPostgreSQLSeesThem) {
  struct Case {
    const char* path;
    bool relation;
    uint32_t segment;
    const char* fork;
  };
  const Case cases[] = {
      {"base/5/16384", true, 0, ""},
      {"base/5/16384.2", true, 2, ""},
      {"base/5/16384_vm", true, 0, "vm"},
      {"base/5/16384_fsm", true, 0, "fsm"},
      {"base/5/16384_init", true, 0, "init"},
      {"base/5/16384_vm.1", true, 1, "vm"},
      {"global/1262", true, 0, ""},
      {"pg_tblspc/16390/PG_15_202209061/5/16391", true, 0, ""},
      {"pg_tblspc/16390/PG_15_202209061/5/16391.3", true, 3, ""},
      {"base/5/t3_16384", false, 0, ""},
      {"base/5/pg_filenode.map", false, 0, ""},
      {"global/pg_control", false, 0, ""},
      {"base/5/PG_VERSION", false, 0, ""},
      {"base/5/pgsql_tmp/pgsql_tmp1.0", false, 0, ""},
      {"base/5/INCREMENTAL.16384", false, 0, ""},
      {"base/5/16384.0", false, 0, ""},
      {"base/5/16384.01", false, 0, ""},
      {"base/5/016384", false, 0, ""},
      {"base/5/16384_xyz", false, 0, ""},
      {"base/05/16384", false, 0, ""},
      {"base/16384", false, 0, ""},
      {"pg_wal/000000010000000000000001", false, 0, ""},
      {"pg_tblspc/16390/5/16391", false, 0, ""},
      {"16384", false, 0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    const auto parsed = parse_relation_path(c.path);
    ASSERT_EQ(parsed.has_value(), c.relation);
    if (parsed) {
      EXPECT_EQ(parsed->segment, c.segment);
      EXPECT_EQ(parsed->fork, c.fork);
    }
  }
}

TEST(IncrementalFormat, CandidatesAreWholeBlockNonFsmRelationSegments) {
  EXPECT_TRUE(incremental_candidate("base/5/16384", 0));
  EXPECT_TRUE(incremental_candidate("base/5/16384", 8192 * 3));
  EXPECT_TRUE(incremental_candidate("base/5/16384_vm", 8192));
  EXPECT_TRUE(incremental_candidate("base/5/16384", uint64_t{8192} * kSegmentBlocks));
  EXPECT_FALSE(incremental_candidate("base/5/16384", uint64_t{8192} * kSegmentBlocks + 8192));
  EXPECT_FALSE(incremental_candidate("base/5/16384", 8191));
  EXPECT_FALSE(incremental_candidate("base/5/16384_fsm", 8192 * 3));
  EXPECT_FALSE(incremental_candidate("base/5/pg_filenode.map", 512));
}

TEST(IncrementalFormat, IncrementalNames) {
  EXPECT_EQ(incremental_path("base/5/16384"), "base/5/INCREMENTAL.16384");
  EXPECT_EQ(incremental_path("global/1262_vm"), "global/INCREMENTAL.1262_vm");
  EXPECT_EQ(strip_incremental("base/5/INCREMENTAL.16384"), "base/5/16384");
  EXPECT_EQ(strip_incremental("INCREMENTAL.16384"), "16384");
  EXPECT_EQ(strip_incremental("base/5/16384"), std::nullopt);
  EXPECT_EQ(strip_incremental("base/5/INCREMENTAL."), std::nullopt);
  EXPECT_EQ(strip_incremental("base/INCREMENTAL.5/16384"), std::nullopt);
}

}  // namespace
}  // namespace pgm::incremental
