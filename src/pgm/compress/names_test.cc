#include "pgm/compress/names.h"

#include <gtest/gtest.h>

namespace pgm::compress {
namespace {

TEST(AlgorithmNamesTest, TableCoversEveryAlgorithmInEnumOrder) {
  const auto& all = kAlgorithms;
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(all[i].algorithm), i);
    EXPECT_EQ(parse_algorithm(all[i].name), all[i].algorithm);
  }
  EXPECT_EQ(algorithm_spellings(), "none, gz, gzip, zstd, lz4, bz2, bzip2");
  static_assert(parse_algorithm("ZSTD") == Algorithm::kZstd);
  static_assert(!parse_algorithm(""));
}

TEST(AlgorithmNamesTest, TypeByteRoundTrips) {
  EXPECT_EQ(type_byte(Algorithm::kNone, true), 0);
  EXPECT_EQ(type_byte(Algorithm::kZstd, false), 0x12);
  EXPECT_EQ(type_byte(Algorithm::kLz4, true), 0x23);
  EXPECT_EQ(type_byte_name(0), "none");
  EXPECT_EQ(type_byte_name(0x12), "zstd");
  EXPECT_EQ(type_byte_name(0x14), "bzip2");
  EXPECT_EQ(type_byte_name(0x21), "server-gzip");
  EXPECT_EQ(type_byte_name(0x17), "unknown");
}

TEST(AlgorithmNamesTest, OnlyGzipLz4AndZstdAreServerSide) {
  EXPECT_TRUE(info(Algorithm::kGzip).server_side);
  EXPECT_TRUE(info(Algorithm::kLz4).server_side);
  EXPECT_TRUE(info(Algorithm::kZstd).server_side);
  EXPECT_FALSE(info(Algorithm::kBzip2).server_side);
  EXPECT_FALSE(info(Algorithm::kNone).server_side);
}

TEST(AlgorithmNamesTest, MatchesSuffixesIncludingZst) {
  EXPECT_EQ(match_suffix("000000010000000000000001.zstd")->algorithm, Algorithm::kZstd);
  EXPECT_EQ(match_suffix("base/1/1259.zst")->length, 4u);
  EXPECT_EQ(match_suffix("a.gz")->algorithm, Algorithm::kGzip);
  EXPECT_EQ(match_suffix("a.lz4")->algorithm, Algorithm::kLz4);
  EXPECT_EQ(match_suffix("a.bz2")->length, 4u);
  EXPECT_FALSE(match_suffix(".gz"));
  EXPECT_FALSE(match_suffix("a.aes"));
  EXPECT_FALSE(match_suffix("plain"));
}

}  // namespace
}  // namespace pgm::compress
