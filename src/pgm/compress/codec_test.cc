#include "pgm/compress/codec.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/wait.h>

namespace pgm::compress {
namespace {

using test_support::bytes_of;
using test_support::compressible_bytes;
using test_support::random_bytes;

TEST(AlgorithmTest, ParsesNamesCaseInsensitively) {
  EXPECT_EQ(parse_algorithm("gzip"), Algorithm::kGzip);
  EXPECT_EQ(parse_algorithm("GZ"), Algorithm::kGzip);
  EXPECT_EQ(parse_algorithm("zstd"), Algorithm::kZstd);
  EXPECT_EQ(parse_algorithm("Lz4"), Algorithm::kLz4);
  EXPECT_EQ(parse_algorithm("bzip2"), Algorithm::kBzip2);
  EXPECT_EQ(parse_algorithm("bz2"), Algorithm::kBzip2);
  EXPECT_EQ(parse_algorithm("none"), Algorithm::kNone);
  EXPECT_EQ(parse_algorithm("brotli"), std::nullopt);
  EXPECT_EQ(parse_algorithm(""), std::nullopt);
}

TEST(AlgorithmTest, NamesAndSuffixes) {
  EXPECT_EQ(algorithm_name(Algorithm::kBzip2), "bzip2");
  EXPECT_EQ(file_suffix(Algorithm::kGzip), ".gz");
  EXPECT_EQ(file_suffix(Algorithm::kZstd), ".zstd");
  EXPECT_EQ(file_suffix(Algorithm::kLz4), ".lz4");
  EXPECT_EQ(file_suffix(Algorithm::kBzip2), ".bz2");
  EXPECT_EQ(file_suffix(Algorithm::kNone), "");
}

TEST(AlgorithmTest, ClampsLevels) {
  EXPECT_EQ(clamp_level(Algorithm::kGzip, 0), 1);
  EXPECT_EQ(clamp_level(Algorithm::kGzip, 42), 9);
  EXPECT_EQ(clamp_level(Algorithm::kZstd, -5), 1);
  EXPECT_EQ(clamp_level(Algorithm::kZstd, 22), 19);
  EXPECT_EQ(clamp_level(Algorithm::kLz4, 13), 12);
  EXPECT_EQ(clamp_level(Algorithm::kBzip2, 10), 9);
  EXPECT_EQ(clamp_level(Algorithm::kBzip2, 5), 5);
}

TEST(AlgorithmTest, NoneCopiesAndHonoursBound) {
  auto in = bytes_of("plain");
  auto c = compress(Algorithm::kNone, in);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, in);
  EXPECT_FALSE(decompress(Algorithm::kNone, in, 2).has_value());
}

// ---- contract suite, run on every codec --------------------------------------------------

// lz4 is written as pgmoneta's block stream, which has neither a checksum nor an end mark: a
// cut between two blocks reads as a shorter stream, and a flipped bit may go unnoticed (a
// backup's SHA-512 lines catch both). Every other format here detects both.
bool self_checking(Algorithm a) { return a != Algorithm::kLz4; }

// What a cut between lz4 blocks gives: the first whole 4 KiB blocks of `in`.
bool whole_blocks_of(const std::vector<uint8_t>& out, const std::vector<uint8_t>& in) {
  return out.size() % 4096 == 0 && out.size() < in.size() &&
         std::equal(out.begin(), out.end(), in.begin());
}

class CodecContractTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  void round_trip(const std::vector<uint8_t>& in, int level = 3) {
    auto c = compress(GetParam(), in, level);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto d = decompress(GetParam(), *c, in.size() + 1);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, in);
  }
};

TEST_P(CodecContractTest, RoundTripsEmpty) { round_trip({}); }

TEST_P(CodecContractTest, RoundTripsSmall) { round_trip(bytes_of("hello, pgmoneta")); }

TEST_P(CodecContractTest, RoundTripsOneMiBRandom) { round_trip(random_bytes(1 << 20, 7)); }

TEST_P(CodecContractTest, RoundTripsOneMiBCompressible) {
  auto in = compressible_bytes(1 << 20);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  EXPECT_LT(c->size(), in.size() / 4);
  round_trip(in);
}

TEST_P(CodecContractTest, RoundTripsAtExtremeLevels) {
  auto in = compressible_bytes(100000);
  round_trip(in, -100);
  round_trip(in, 100);
}

TEST_P(CodecContractTest, ReusedCompressorMakesIndependentStreams) {
  // Shrinking, growing and repeated inputs through one Compressor: every output is a complete
  // stream of its own input, identical to what the one-shot compress() makes decodable.
  Compressor c(GetParam(), 3);
  std::vector<std::vector<uint8_t>> inputs{random_bytes(300000, 1),
                                           bytes_of("tiny"),
                                           {},
                                           random_bytes(1 << 20, 2),
                                           random_bytes(300000, 1)};
  std::vector<uint8_t> kept;
  for (const auto& in : inputs) {
    auto out = c.compress(in);
    ASSERT_TRUE(out) << out.error().message();
    auto d = decompress(GetParam(), *out, in.size() + 1);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(*d, in);
    std::vector<uint8_t> into;
    ASSERT_TRUE(c.compress_into(in, into));
    auto d2 = decompress(GetParam(), into, in.size() + 1);
    ASSERT_TRUE(d2);
    EXPECT_EQ(*d2, in);
  }
  Compressor moved(std::move(c));
  auto again = moved.compress(inputs[0]);
  ASSERT_TRUE(again);
  EXPECT_EQ(*decompress(GetParam(), *again, inputs[0].size()), inputs[0]);
}

TEST_P(CodecContractTest, ExactMaxOutputIsAccepted) {
  auto in = compressible_bytes(300000);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  auto d = decompress(GetParam(), *c, in.size());
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, in);
}

TEST_P(CodecContractTest, RejectsOutputBeyondMaxOutput) {
  auto in = compressible_bytes(300000);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  auto d = decompress(GetParam(), *c, in.size() - 1);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  auto small = decompress(GetParam(), *c, 10);
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error().code(), ErrorCode::kCorruption);
}

TEST_P(CodecContractTest, BoundsADecompressionBomb) {
  std::vector<uint8_t> zeros(16 << 20, 0);
  auto c = compress(GetParam(), zeros, 9);
  ASSERT_TRUE(c.has_value());
  auto d = decompress(GetParam(), *c, 1 << 20);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
}

TEST_P(CodecContractTest, RejectsEmptyInput) {
  auto d = decompress(GetParam(), std::vector<uint8_t>{});
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
}

TEST_P(CodecContractTest, RejectsEveryTruncation) {
  auto in = random_bytes(5000, 3);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  for (size_t len = 0; len < c->size(); ++len) {
    std::span<const uint8_t> cut(c->data(), len);
    auto d = decompress(GetParam(), cut);
    if (d.has_value() && !self_checking(GetParam())) {
      EXPECT_TRUE(whole_blocks_of(*d, in)) << len;
      continue;
    }
    ASSERT_FALSE(d.has_value()) << "accepted a truncation to " << len << " of " << c->size();
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

TEST_P(CodecContractTest, RejectsTruncatedLargeInput) {
  auto in = compressible_bytes(1 << 20);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  for (size_t len : {c->size() / 3, c->size() / 2, c->size() - 1}) {
    auto d = decompress(GetParam(), std::span<const uint8_t>(c->data(), len));
    ASSERT_FALSE(d.has_value()) << len;
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

TEST_P(CodecContractTest, DetectsCorruptedBytes) {
  // The codecs with a checksum (gzip CRC32, zstd content checksum, bzip2 CRC) never yield
  // silently wrong data for a flipped byte; lz4 must at least not misbehave.
  auto in = compressible_bytes(20000);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  for (const auto& [bad, at] : test_support::random_bit_flips(*c, 200, 11)) {
    auto d = decompress(GetParam(), bad, in.size() * 2);
    if (d.has_value()) {
      EXPECT_TRUE(*d == in || !self_checking(GetParam()))
          << "flipped byte " << at << " gave different data";
    } else {
      EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
    }
  }
}

TEST_P(CodecContractTest, RejectsRandomGarbage) {
  for (uint32_t seed = 0; seed < 200; ++seed) {
    auto garbage = random_bytes(1 + seed * 37, seed);
    auto d = decompress(GetParam(), garbage, 1 << 20);
    if (!d.has_value()) {
      EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
    }
  }
}

TEST_P(CodecContractTest, RejectsTrailingGarbage) {
  auto c = compress(GetParam(), bytes_of("payload"));
  ASSERT_TRUE(c.has_value());
  auto bad = *c;
  for (uint8_t b : bytes_of("garbage!")) {
    bad.push_back(b);
  }
  auto d = decompress(GetParam(), bad);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
}

TEST_P(CodecContractTest, DecodesConcatenatedStreams) {
  auto a = compress(GetParam(), bytes_of("first "));
  auto b = compress(GetParam(), bytes_of("second"));
  ASSERT_TRUE(a.has_value() && b.has_value());
  auto joined = *a;
  joined.insert(joined.end(), b->begin(), b->end());
  auto d = decompress(GetParam(), joined);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, bytes_of("first second"));
}

// The command-line tool must accept our output (bonus interoperability check), but for lz4,
// whose block stream the lz4 tool does not read; we read its LZ4 frames all the same.
TEST_P(CodecContractTest, OutputIsReadableByTheCommandLineTool) {
  const char* tool = nullptr;
  const char* test_flag = "-t";
  switch (GetParam()) {
    case Algorithm::kGzip:
      tool = "gzip";
      break;
    case Algorithm::kZstd:
      tool = "zstd";
      test_flag = "-tq";
      break;
    case Algorithm::kLz4:
      tool = "lz4";
      break;
    case Algorithm::kBzip2:
      tool = "bzip2";
      break;
    case Algorithm::kNone:
      break;
  }
  std::string which = std::string("command -v ") + tool + " >/dev/null 2>&1";
  if (std::system(which.c_str()) != 0) {
    GTEST_SKIP() << tool << " not installed";
  }
  auto in = compressible_bytes(200000);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  test_support::TempDir dir("pgm_codec");
  std::string file = dir.file("data" + std::string(file_suffix(GetParam())));
  test_support::write_bytes(file, *c);
  std::string cmd = std::string(tool) + " " + test_flag + " " + file + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  // Also decompress the tool's own output for this content.
  std::string raw = dir.file("raw");
  test_support::write_bytes(raw, in);
  std::string made = dir.file("tool.out");
  std::string cmd2 = std::string(tool) + " -c " + raw + " > " + made + " 2>/dev/null";
  int rc2 = std::system(cmd2.c_str());
  std::vector<uint8_t> theirs = test_support::read_bytes(made);
  if (GetParam() != Algorithm::kLz4) {
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
  }
  ASSERT_TRUE(WIFEXITED(rc2) && WEXITSTATUS(rc2) == 0) << cmd2;
  auto d = decompress(GetParam(), theirs);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, in);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecContractTest,
                         ::testing::Values(Algorithm::kGzip, Algorithm::kZstd, Algorithm::kLz4,
                                           Algorithm::kBzip2),
                         [](const ::testing::TestParamInfo<Algorithm>& p) {
                           return std::string(algorithm_name(p.param));
                         });

}  // namespace
}  // namespace pgm::compress
