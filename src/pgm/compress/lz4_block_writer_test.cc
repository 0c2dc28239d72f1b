// The lz4 we write: pgmoneta's block stream (lz4_block_writer.h), checked against our reader
// and against readers built on the plain LZ4 block API that keep only the history pgmoneta's do.
#include "pgm/compress/lz4_block_writer.h"

#include <cstring>
#include <optional>
#include <random>
#include <string>

#include "support/bytes.h"
#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4hc.h>

#include "pgm/compress/codec.h"
#include "pgm/compress/stream.h"

namespace pgm::compress {
namespace {

using internal::kLz4BlockBytes;
using test_support::bytes_of;
using test_support::compressible_bytes;
using test_support::random_bytes;

constexpr size_t kBlock = kLz4BlockBytes;
constexpr int kMaxStored = LZ4_COMPRESSBOUND(static_cast<int>(kLz4BlockBytes));

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// The lengths of the blocks of a stream; nullopt when it does not split into whole blocks.
std::optional<std::vector<uint32_t>> block_lengths(std::span<const uint8_t> stream) {
  std::vector<uint32_t> lengths;
  size_t pos = 0;
  while (pos < stream.size()) {
    if (stream.size() - pos < 4) {
      return std::nullopt;
    }
    uint32_t n = le32(stream.data() + pos);
    pos += 4;
    if (n > stream.size() - pos) {
      return std::nullopt;
    }
    lengths.push_back(n);
    pos += n;
  }
  return lengths;
}

// How a pgmoneta reader takes a block stream apart, with the plain LZ4 block API: a native
// int length (little-endian here), then LZ4_decompress_safe_continue into one of two output
// buffers in turn, so only the previous block survives as history. `gap` is the distance
// between the starts of the two buffers and `max_block` the most one block may decode to.
// pgmoneta 0.22 has two such readers:
//  - files (its `decompress` command): buffers of 4096 bytes back to back; a length above
//    LZ4_COMPRESSBOUND(4096) or a block decoding to nothing is an error, an empty file is empty;
//  - restore (backup files and WAL): buffers of LZ4_COMPRESSBOUND(4096) bytes; a block decoding
//    to nothing is fine, an empty file is an error.
struct PgmonetaReader {
  size_t gap;
  int max_block;
  bool empty_block_ok;
  bool empty_input_ok;
};
constexpr PgmonetaReader kFileReader{kBlock, static_cast<int>(kBlock), false, true};
constexpr PgmonetaReader kRestoreReader{static_cast<size_t>(kMaxStored), kMaxStored, true, false};

std::optional<std::vector<uint8_t>> read_as_pgmoneta(const PgmonetaReader& r,
                                                     std::span<const uint8_t> stream) {
  if (stream.empty()) {
    return r.empty_input_ok ? std::optional<std::vector<uint8_t>>(std::vector<uint8_t>{})
                            : std::nullopt;
  }
  LZ4_streamDecode_t decode{};
  LZ4_setStreamDecode(&decode, nullptr, 0);
  std::vector<char> buffers(2 * r.gap);
  std::vector<uint8_t> out;
  size_t which = 0;
  size_t pos = 0;
  while (pos < stream.size()) {
    if (stream.size() - pos < 4) {
      return std::nullopt;
    }
    int32_t length = 0;
    std::memcpy(&length, stream.data() + pos, 4);
    pos += 4;
    if (length <= 0 || length > kMaxStored || static_cast<size_t>(length) > stream.size() - pos) {
      return std::nullopt;
    }
    char* dst = buffers.data() + which * r.gap;
    int n = LZ4_decompress_safe_continue(
        &decode, reinterpret_cast<const char*>(stream.data() + pos), dst, length, r.max_block);
    if (n < 0 || (n == 0 && !r.empty_block_ok)) {
      return std::nullopt;
    }
    out.insert(out.end(), dst, dst + n);
    pos += static_cast<size_t>(length);
    which ^= 1;
  }
  return out;
}

std::vector<uint8_t> write_stream(std::span<const uint8_t> in, int level) {
  auto c = compress(Algorithm::kLz4, in, level);
  EXPECT_TRUE(c.has_value()) << c.error().message();
  return c ? *c : std::vector<uint8_t>{};
}

// `count` repetitions of `period` random bytes.
std::vector<uint8_t> periodic(size_t period, size_t count, uint32_t seed) {
  std::vector<uint8_t> unit = random_bytes(period, seed);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < count; ++i) {
    out.insert(out.end(), unit.begin(), unit.end());
  }
  return out;
}

// Mixed content of `size` bytes: compressible text, random bytes, runs.
std::vector<uint8_t> mixed_bytes(size_t size) {
  std::vector<uint8_t> out = compressible_bytes(size / 3);
  std::vector<uint8_t> noise = random_bytes(size / 3, 5);
  out.insert(out.end(), noise.begin(), noise.end());
  out.resize(size, 'x');
  return out;
}

class Lz4BlockWriterTest : public ::testing::TestWithParam<int> {};  // the level

TEST_P(Lz4BlockWriterTest, RoundTripsThroughOurReaderAndPgmonetas) {
  for (size_t size : {size_t{1}, kBlock - 1, kBlock, kBlock + 1, 3 * kBlock, size_t{300001}}) {
    std::vector<uint8_t> in = mixed_bytes(size);
    std::vector<uint8_t> stream = write_stream(in, GetParam());
    auto ours = decompress(Algorithm::kLz4, stream, in.size());
    ASSERT_TRUE(ours.has_value()) << size << ": " << ours.error().message();
    EXPECT_EQ(*ours, in) << size;
    EXPECT_EQ(read_as_pgmoneta(kFileReader, stream), in) << size;
    EXPECT_EQ(read_as_pgmoneta(kRestoreReader, stream), in) << size;
  }
}

TEST_P(Lz4BlockWriterTest, EmptyInputIsOneEmptyBlock) {
  std::vector<uint8_t> stream = write_stream({}, GetParam());
  // What pgmoneta 0.22 stores for an empty file in a backup.
  EXPECT_EQ(stream, (std::vector<uint8_t>{1, 0, 0, 0, 0}));
  auto ours = decompress(Algorithm::kLz4, stream);
  ASSERT_TRUE(ours.has_value()) << ours.error().message();
  EXPECT_TRUE(ours->empty());
  EXPECT_EQ(read_as_pgmoneta(kRestoreReader, stream), std::vector<uint8_t>{});
}

TEST_P(Lz4BlockWriterTest, InputOfExactlyNBlocksMakesNBlocks) {
  for (size_t blocks : {size_t{1}, size_t{2}, size_t{3}, size_t{16}}) {
    std::vector<uint8_t> in = compressible_bytes(blocks * kBlock);
    std::vector<uint8_t> stream = write_stream(in, GetParam());
    auto lengths = block_lengths(stream);
    ASSERT_TRUE(lengths.has_value());
    EXPECT_EQ(lengths->size(), blocks) << "no empty block after the last full one";
    EXPECT_EQ(read_as_pgmoneta(kFileReader, stream), in);

    in.push_back('!');
    lengths = block_lengths(write_stream(in, GetParam()));
    ASSERT_TRUE(lengths.has_value());
    EXPECT_EQ(lengths->size(), blocks + 1);
  }
}

TEST_P(Lz4BlockWriterTest, BlocksReferToThePreviousBlock) {
  // One random block, eight times: every block after the first is a copy of the one before.
  std::vector<uint8_t> in = periodic(kBlock, 8, 21);
  std::vector<uint8_t> stream = write_stream(in, GetParam());
  auto lengths = block_lengths(stream);
  ASSERT_TRUE(lengths.has_value());
  ASSERT_EQ(lengths->size(), 8u);
  EXPECT_GT((*lengths)[0], kBlock);
  for (size_t i = 1; i < lengths->size(); ++i) {
    EXPECT_LT((*lengths)[i], 64u) << "block " << i;
  }
  EXPECT_EQ(read_as_pgmoneta(kFileReader, stream), in);
  EXPECT_EQ(read_as_pgmoneta(kRestoreReader, stream), in);
}

TEST_P(Lz4BlockWriterTest, NeverRefersFurtherBackThanThePreviousBlock) {
  // Random content repeating every 2, 3 and 16 blocks: the copies are out of a pgmoneta
  // reader's reach, so the writer must not use them. Blocks stay incompressible.
  for (size_t period : {2 * kBlock, 3 * kBlock, 16 * kBlock}) {
    std::vector<uint8_t> in = periodic(period, 3, 22);
    std::vector<uint8_t> stream = write_stream(in, GetParam());
    auto lengths = block_lengths(stream);
    ASSERT_TRUE(lengths.has_value());
    for (size_t i = 0; i < lengths->size(); ++i) {
      EXPECT_GT((*lengths)[i], kBlock) << "period " << period << " block " << i;
    }
    EXPECT_EQ(read_as_pgmoneta(kFileReader, stream), in) << period;
    EXPECT_EQ(read_as_pgmoneta(kRestoreReader, stream), in) << period;
  }
}

TEST_P(Lz4BlockWriterTest, OutputDoesNotDependOnHowInputArrives) {
  std::vector<uint8_t> in = mixed_bytes(200000);
  std::vector<uint8_t> whole = write_stream(in, GetParam());
  auto c = StreamCompressor::create(Algorithm::kLz4, GetParam());
  ASSERT_TRUE(c.has_value());
  std::vector<uint8_t> pieces;
  Sink sink = [&pieces](std::span<const uint8_t> bytes) -> Result<void> {
    pieces.insert(pieces.end(), bytes.begin(), bytes.end());
    return {};
  };
  std::mt19937 rng(9);
  for (size_t pos = 0; pos < in.size();) {
    size_t n = std::min(in.size() - pos, static_cast<size_t>(rng() % 10000));
    ASSERT_TRUE(c->update(std::span(in).subspan(pos, n), sink).has_value());
    pos += n;
  }
  ASSERT_TRUE(c->finish(sink).has_value());
  EXPECT_EQ(pieces, whole);
  EXPECT_EQ(c->bytes_out(), whole.size());
  // A reset stream starts without history: the same bytes again.
  c->reset();
  pieces.clear();
  ASSERT_TRUE(c->finish(in, sink).has_value());
  EXPECT_EQ(pieces, whole);
}

INSTANTIATE_TEST_SUITE_P(Levels, Lz4BlockWriterTest, ::testing::Values(1, 3, 9, 12),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "Level" + std::to_string(p.param);
                         });

TEST(Lz4BlockWriterBytesTest, SmallFileIsStoredAsPgmonetaStoresIt) {
  // pgmoneta 0.22 stored PG_VERSION ("15\n") as these bytes: length 4, token 0x30 (three
  // literals, no match), the literals.
  EXPECT_EQ(write_stream(bytes_of("15\n"), 1),
            (std::vector<uint8_t>{4, 0, 0, 0, 0x30, '1', '5', '\n'}));
}

TEST(Lz4BlockWriterBytesTest, ThePlainBlockApiDecodesOurOutput) {
  // A known input, read back block by block with LZ4_decompress_safe_continue exactly as
  // pgmoneta reads a file: each block decodes on its own, given only the one before it.
  std::string text;
  for (int i = 0; text.size() < 3 * kBlock + 100; ++i) {
    text += "INSERT INTO pgbench_history VALUES (" + std::to_string(i % 41) + ", 7);\n";
  }
  text.resize(3 * kBlock + 100);
  std::vector<uint8_t> in = bytes_of(text);
  std::vector<uint8_t> stream = write_stream(in, 1);
  auto lengths = block_lengths(stream);
  ASSERT_TRUE(lengths.has_value());
  ASSERT_EQ(lengths->size(), 4u);
  LZ4_streamDecode_t decode{};
  LZ4_setStreamDecode(&decode, nullptr, 0);
  std::vector<char> buffers(2 * kBlock);
  std::string back;
  size_t pos = 0;
  for (size_t i = 0; i < lengths->size(); ++i) {
    pos += 4;
    char* dst = buffers.data() + (i % 2) * kBlock;
    int n = LZ4_decompress_safe_continue(&decode, reinterpret_cast<const char*>(&stream[pos]), dst,
                                         static_cast<int>((*lengths)[i]), static_cast<int>(kBlock));
    ASSERT_EQ(n, i < 3 ? static_cast<int>(kBlock) : 100) << "block " << i;
    back.append(dst, static_cast<size_t>(n));
    pos += (*lengths)[i];
  }
  EXPECT_EQ(back, text);
}

// A stream whose blocks refer up to 64 KiB back (liblz4's high-compression mode over a ring of
// 64 KiB; pgmoneta does not write these, but the format allows them): our reader keeps that
// much history.
TEST(Lz4BlockReaderTest, DecodesBlocksReferringUpTo64KiBBack) {
  std::vector<uint8_t> in = periodic(15 * kBlock, 4, 23);
  LZ4_streamHC_t* lz4 = LZ4_createStreamHC();
  ASSERT_NE(lz4, nullptr);
  LZ4_resetStreamHC_fast(lz4, 9);
  std::vector<char> ring(64 * 1024);
  std::vector<char> block(static_cast<size_t>(kMaxStored));
  std::vector<uint8_t> stream;
  size_t at = 0;
  for (size_t pos = 0; pos < in.size(); pos += kBlock) {
    if (at + kBlock > ring.size()) {
      at = 0;
    }
    std::memcpy(ring.data() + at, in.data() + pos, kBlock);
    int n = LZ4_compress_HC_continue(lz4, ring.data() + at, block.data(), static_cast<int>(kBlock),
                                     kMaxStored);
    ASSERT_GT(n, 0);
    for (int shift = 0; shift < 32; shift += 8) {
      stream.push_back(static_cast<uint8_t>(static_cast<uint32_t>(n) >> shift));
    }
    stream.insert(stream.end(), block.begin(), block.begin() + n);
    at += kBlock;
  }
  LZ4_freeStreamHC(lz4);
  // Far references were made: the repeats compress to almost nothing.
  EXPECT_LT(stream.size(), in.size() / 3);
  auto ours = decompress(Algorithm::kLz4, stream, in.size());
  ASSERT_TRUE(ours.has_value()) << ours.error().message();
  EXPECT_EQ(*ours, in);
  // Which is why our writer keeps to the previous block: pgmoneta cannot read this.
  EXPECT_NE(read_as_pgmoneta(kFileReader, stream), in);
}

}  // namespace
}  // namespace pgm::compress
