#include "pgm/compress/stream.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <lz4.h>
#include <sys/wait.h>

#include "pgm/compress/codec.h"

namespace pgm::compress {
namespace {

using test_support::bytes_of;
using test_support::compressible_bytes;
using test_support::random_bytes;

std::vector<uint8_t> join(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// How input is cut into update() calls.
enum class Split { kWhole, kOneByte, kRandom };

// Cuts `in` according to `split` and calls `feed` for each piece.
template <typename Feed>
Result<void> feed_split(std::span<const uint8_t> in, Split split, uint32_t seed, Feed feed) {
  std::mt19937 rng(seed);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = in.size() - pos;
    if (split == Split::kOneByte) {
      n = 1;
    } else if (split == Split::kRandom) {
      // Mostly small pieces, sometimes large ones, sometimes empty.
      size_t cap = rng() % 4 == 0 ? 300000 : 700;
      n = std::min(n, static_cast<size_t>(rng() % cap));
    }
    PGM_TRY(feed(in.subspan(pos, n)));
    pos += n;
  }
  return {};
}

// A sink appending to `out`.
Sink collect(std::vector<uint8_t>& out) {
  return [&out](std::span<const uint8_t> chunk) -> Result<void> {
    out.insert(out.end(), chunk.begin(), chunk.end());
    return {};
  };
}

Result<std::vector<uint8_t>> stream_compress(Algorithm a, std::span<const uint8_t> in,
                                             Split split = Split::kWhole, uint32_t seed = 1,
                                             int level = 3) {
  PGM_ASSIGN_OR_RETURN(StreamCompressor c, StreamCompressor::create(a, level));
  std::vector<uint8_t> out;
  Sink sink = collect(out);
  PGM_TRY(feed_split(in, split, seed,
                     [&](std::span<const uint8_t> piece) { return c.update(piece, sink); }));
  PGM_TRY(c.finish(sink));
  return out;
}

Result<std::vector<uint8_t>> stream_decompress(Algorithm a, std::span<const uint8_t> in,
                                               Split split = Split::kWhole, uint32_t seed = 2) {
  PGM_ASSIGN_OR_RETURN(Decompressor d, Decompressor::create(a));
  std::vector<uint8_t> out;
  Sink sink = collect(out);
  PGM_TRY(feed_split(in, split, seed,
                     [&](std::span<const uint8_t> piece) { return d.update(piece, sink); }));
  PGM_TRY(d.finish(sink));
  if (d.bytes_out() != out.size()) {
    return make_error(ErrorCode::kInternal, "bytes_out() disagrees with the delivered bytes");
  }
  return out;
}

// Runs a shell command; the tests calling it are single-threaded.
int run_shell(const std::string& cmd) {
  return std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
}

std::string param_name(const ::testing::TestParamInfo<Algorithm>& p) {
  return std::string(algorithm_name(p.param));
}

// ---- contract suite, run on every codec including kNone ----------------------------------

class StreamCodecTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  void round_trip(const std::vector<uint8_t>& in, Split split, uint32_t seed) {
    auto c = stream_compress(GetParam(), in, split, seed);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto d = stream_decompress(GetParam(), *c, split, seed + 1);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, in);
  }
};

TEST_P(StreamCodecTest, RoundTripsEmpty) { round_trip({}, Split::kWhole, 1); }

TEST_P(StreamCodecTest, RoundTripsWholeInputs) {
  round_trip(bytes_of("hello, pgmoneta"), Split::kWhole, 1);
  round_trip(random_bytes(1 << 20, 7), Split::kWhole, 1);
  round_trip(compressible_bytes(3 << 19), Split::kWhole, 1);
}

TEST_P(StreamCodecTest, RoundTripsRandomSplits) {
  for (uint32_t seed = 1; seed < 3; ++seed) {
    round_trip(random_bytes(300000, seed), Split::kRandom, seed * 10);
    round_trip(compressible_bytes(1 << 20), Split::kRandom, seed * 20);
  }
}

TEST_P(StreamCodecTest, RoundTripsOneByteFeeds) {
  round_trip(compressible_bytes(30000), Split::kOneByte, 1);
  round_trip(random_bytes(5000, 3), Split::kOneByte, 1);
}

TEST_P(StreamCodecTest, RoundTripsAtExtremeLevels) {
  auto in = compressible_bytes(300000);
  for (int level : {-100, 100}) {
    auto c = stream_compress(GetParam(), in, Split::kRandom, 5, level);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto d = stream_decompress(GetParam(), *c);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, in);
  }
}

TEST_P(StreamCodecTest, StreamOutputDecodesWithBufferCodec) {
  for (const auto& in :
       {std::vector<uint8_t>{}, compressible_bytes(1 << 20), random_bytes(99999, 4)}) {
    auto c = stream_compress(GetParam(), in, Split::kRandom, 3);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    auto d = decompress(GetParam(), *c);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, in);
  }
}

TEST_P(StreamCodecTest, BufferCodecOutputDecodesWithStream) {
  for (const auto& in :
       {std::vector<uint8_t>{}, compressible_bytes(1 << 20), random_bytes(99999, 4)}) {
    auto c = compress(GetParam(), in);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    for (Split split : {Split::kWhole, Split::kRandom}) {
      auto d = stream_decompress(GetParam(), *c, split);
      ASSERT_TRUE(d.has_value()) << d.error().message();
      EXPECT_EQ(*d, in);
    }
  }
}

TEST_P(StreamCodecTest, DecodesConcatenatedFramesAsOneStream) {
  auto first = compressible_bytes(400000);
  auto second = random_bytes(70000, 9);
  auto a = compress(GetParam(), first);
  auto b = compress(GetParam(), second);
  auto empty = compress(GetParam(), {});
  ASSERT_TRUE(a.has_value() && b.has_value() && empty.has_value());
  auto joined = join(join(*a, *empty), *b);
  auto want = join(first, second);
  for (Split split : {Split::kWhole, Split::kRandom, Split::kOneByte}) {
    auto d = stream_decompress(GetParam(), joined, split);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, want);
  }
}

TEST_P(StreamCodecTest, ResetCompressorMakesIndependentStreams) {
  auto c = StreamCompressor::create(GetParam(), 3);
  ASSERT_TRUE(c.has_value());
  std::vector<uint8_t> all;
  std::vector<uint8_t> want;
  for (const auto& in : {compressible_bytes(500000), bytes_of("x"), std::vector<uint8_t>{},
                         random_bytes(300000, 8)}) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(c->update(in, collect(out)).has_value());
    EXPECT_EQ(c->bytes_in(), in.size());
    ASSERT_TRUE(c->finish(collect(out)).has_value());
    EXPECT_EQ(c->bytes_out(), out.size());
    auto d = decompress(GetParam(), out);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, in);
    all = join(all, out);
    want = join(want, in);
    c->reset();
  }
  auto d = stream_decompress(GetParam(), all, Split::kRandom);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, want);
}

TEST_P(StreamCodecTest, ResetAbandonsAnUnfinishedStream) {
  auto c = StreamCompressor::create(GetParam(), 3);
  ASSERT_TRUE(c.has_value());
  std::vector<uint8_t> dropped;
  ASSERT_TRUE(c->update(random_bytes(400000, 1), collect(dropped)).has_value());
  c->reset();
  std::vector<uint8_t> out;
  auto in = compressible_bytes(100000);
  ASSERT_TRUE(c->update(in, collect(out)).has_value());
  ASSERT_TRUE(c->finish(collect(out)).has_value());
  auto d = stream_decompress(GetParam(), out);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, in);
}

TEST_P(StreamCodecTest, ResetDecompressorStartsAgain) {
  auto c = compress(GetParam(), bytes_of("again"));
  ASSERT_TRUE(c.has_value());
  auto d = Decompressor::create(GetParam());
  ASSERT_TRUE(d.has_value());
  // Abandon one stream halfway, then decode a whole one twice.
  std::vector<uint8_t> ignored;
  ASSERT_TRUE(d->update(std::span(c->data(), c->size() / 2), collect(ignored)).has_value());
  for (int i = 0; i < 2; ++i) {
    d->reset();
    std::vector<uint8_t> out;
    ASSERT_TRUE(d->update(*c, collect(out)).has_value());
    ASSERT_TRUE(d->finish(collect(out)).has_value());
    EXPECT_EQ(out, bytes_of("again"));
    EXPECT_EQ(d->bytes_out(), 5u);
  }
}

TEST_P(StreamCodecTest, DeliversChunksOfBoundedSize) {
  auto in = random_bytes(2 << 20, 12);
  size_t calls = 0;
  size_t largest = 0;
  size_t total = 0;
  Sink counting = [&](std::span<const uint8_t> chunk) -> Result<void> {
    ++calls;
    largest = std::max(largest, chunk.size());
    total += chunk.size();
    return {};
  };
  auto c = StreamCompressor::create(GetParam(), 1);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(feed_split(in, Split::kRandom, 3, [&](std::span<const uint8_t> piece) {
                return c->update(piece, counting);
              }).has_value());
  ASSERT_TRUE(c->finish(counting).has_value());
  EXPECT_EQ(total, c->bytes_out());
  if (GetParam() != Algorithm::kNone) {
    // lz4 stops filling a chunk when the library's worst case for one more block (64 KiB)
    // no longer fits, so chunks are at least about 3/4 full.
    EXPECT_LE(largest, kStreamChunk);
    EXPECT_LE(calls, total / (kStreamChunk * 3 / 4) + 2);
  }
}

TEST_P(StreamCodecTest, SinkErrorStopsTheCodec) {
  auto in = random_bytes(1 << 20, 2);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  Sink failing = [](std::span<const uint8_t>) -> Result<void> {
    return make_error(ErrorCode::kIo, "write: No space left on device");
  };
  auto d = Decompressor::create(GetParam());
  ASSERT_TRUE(d.has_value());
  auto r = d->update(*c, failing);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  std::vector<uint8_t> ignored;
  auto again = d->finish(collect(ignored));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message(), "write: No space left on device");
  d->reset();  // clears the error
  std::vector<uint8_t> plain;
  ASSERT_TRUE(d->update(*c, collect(plain)).has_value());
  ASSERT_TRUE(d->finish(collect(plain)).has_value());
  EXPECT_EQ(plain, in);

  auto s = StreamCompressor::create(GetParam(), 3);
  ASSERT_TRUE(s.has_value());
  auto rc = s->update(in, failing);
  if (rc.has_value()) {  // nothing was due yet
    rc = s->finish(failing);
  }
  ASSERT_FALSE(rc.has_value());
  EXPECT_EQ(rc.error().code(), ErrorCode::kIo);
  EXPECT_FALSE(s->update(in, collect(ignored)).has_value());
  s->reset();  // clears the error
  std::vector<uint8_t> out;
  ASSERT_TRUE(s->update(in, collect(out)).has_value());
  ASSERT_TRUE(s->finish(collect(out)).has_value());
  auto back = decompress(GetParam(), out, in.size());
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, in);
}

TEST_P(StreamCodecTest, RefusesUseAfterFinish) {
  auto s = StreamCompressor::create(GetParam(), 3);
  ASSERT_TRUE(s.has_value());
  std::vector<uint8_t> out;
  ASSERT_TRUE(s->finish(collect(out)).has_value());
  auto r = s->update(bytes_of("late"), collect(out));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, StreamCodecTest,
                         ::testing::Values(Algorithm::kNone, Algorithm::kGzip, Algorithm::kZstd,
                                           Algorithm::kLz4, Algorithm::kBzip2),
                         param_name);

// ---- errors, for the real codecs ----------------------------------------------------------

class DecompressorErrorTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(DecompressorErrorTest, RejectsEmptyInput) {
  auto d = stream_decompress(GetParam(), {});
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(d.error().message().find(algorithm_name(GetParam())), std::string::npos)
      << d.error().message();
}

TEST_P(DecompressorErrorTest, RejectsEveryTruncation) {
  auto in = random_bytes(5000, 3);
  auto c = stream_compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  for (size_t len = 0; len < c->size(); ++len) {
    auto d = stream_decompress(GetParam(), std::span(c->data(), len), Split::kRandom, len);
    if (d.has_value() && GetParam() == Algorithm::kLz4) {
      // No end mark in pgmoneta's block stream: a cut after the first block is invisible.
      EXPECT_EQ(*d, std::vector<uint8_t>(in.begin(), in.begin() + 4096)) << len;
      continue;
    }
    ASSERT_FALSE(d.has_value()) << "accepted a truncation to " << len << " of " << c->size();
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

TEST_P(DecompressorErrorTest, RejectsTruncatedSecondFrame) {
  auto a = compress(GetParam(), compressible_bytes(100000));
  auto b = compress(GetParam(), random_bytes(100000, 5));
  ASSERT_TRUE(a.has_value() && b.has_value());
  auto joined = join(*a, *b);
  for (size_t cut : {a->size() + 1, a->size() + b->size() / 2, joined.size() - 1}) {
    auto d = stream_decompress(GetParam(), std::span(joined.data(), cut), Split::kRandom);
    ASSERT_FALSE(d.has_value()) << cut;
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(d.error().message().find("truncated"), std::string::npos) << d.error().message();
  }
}

TEST_P(DecompressorErrorTest, DetectsCorruptedBytes) {
  // Every codec here but lz4 carries a checksum, so a flipped byte never yields silently wrong
  // data; pgmoneta's lz4 block stream has none (a backup's SHA-512 lines catch it).
  auto in = compressible_bytes(20000);
  auto c = compress(GetParam(), in);
  ASSERT_TRUE(c.has_value());
  const auto flips = test_support::random_bit_flips(*c, 200, 11);
  for (size_t i = 0; i < flips.size(); ++i) {
    const auto& [bad, at] = flips[i];
    auto d = stream_decompress(GetParam(), bad, Split::kRandom, static_cast<uint32_t>(i));
    if (d.has_value()) {
      EXPECT_TRUE(*d == in || GetParam() == Algorithm::kLz4)
          << "flipped byte " << at << " gave different data";
    } else {
      EXPECT_EQ(d.error().code(), ErrorCode::kCorruption) << d.error().message();
      EXPECT_NE(d.error().message().find(algorithm_name(GetParam())), std::string::npos)
          << d.error().message();
    }
  }
}

TEST_P(DecompressorErrorTest, RejectsRandomGarbage) {
  for (uint32_t seed = 0; seed < 100; ++seed) {
    auto garbage = random_bytes(1 + seed * 37, seed);
    auto d = stream_decompress(GetParam(), garbage, Split::kRandom, seed);
    ASSERT_FALSE(d.has_value()) << seed;
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

TEST_P(DecompressorErrorTest, RejectsTrailingGarbage) {
  auto c = compress(GetParam(), bytes_of("payload"));
  ASSERT_TRUE(c.has_value());
  auto bad = join(*c, bytes_of("garbage!"));
  for (Split split : {Split::kWhole, Split::kOneByte}) {
    auto d = stream_decompress(GetParam(), bad, split);
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
}

// The command-line tools read our streams (but lz4's, pgmoneta's block stream), and we read
// theirs (also concatenated).
TEST_P(DecompressorErrorTest, InteroperatesWithTheCommandLineTool) {
  std::string tool(algorithm_name(GetParam()));
  if (run_shell("command -v " + tool + " >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << tool << " not installed";
  }
  auto in = compressible_bytes(700000);
  auto ours = stream_compress(GetParam(), in, Split::kRandom, 8);
  ASSERT_TRUE(ours.has_value());
  test_support::TempDir tmp("pgm_stream");
  const std::string& dir = tmp.path();
  test_support::write_bytes(dir + "/ours", *ours);
  test_support::write_bytes(dir + "/raw", in);
  std::string decode = tool + " -d -c < " + dir + "/ours > " + dir + "/decoded 2>/dev/null";
  std::string encode = tool + " -c < " + dir + "/raw > " + dir + "/one 2>/dev/null && cat " + dir +
                       "/one " + dir + "/one > " + dir + "/two";
  int rc1 = run_shell(decode);
  int rc2 = run_shell(encode);
  auto decoded = test_support::read_bytes(dir + "/decoded");
  auto theirs = test_support::read_bytes(dir + "/two");
  if (GetParam() != Algorithm::kLz4) {
    ASSERT_TRUE(WIFEXITED(rc1) && WEXITSTATUS(rc1) == 0) << decode;
    EXPECT_EQ(decoded, in);
  }
  ASSERT_TRUE(WIFEXITED(rc2) && WEXITSTATUS(rc2) == 0) << encode;
  auto d = stream_decompress(GetParam(), theirs, Split::kRandom);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, join(in, in));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, DecompressorErrorTest,
                         ::testing::Values(Algorithm::kGzip, Algorithm::kZstd, Algorithm::kLz4,
                                           Algorithm::kBzip2),
                         param_name);

// ---- kNone and creation --------------------------------------------------------------------

// pgmoneta's lz4 files: a 4-byte little-endian length then a raw LZ4 block, repeated, each
// block compressed with LZ4_compress_fast_continue from a double buffer of `block` bytes (so
// a block may copy from the one before it). Built here from the format's description.
std::vector<uint8_t> lz4_block_stream(std::span<const uint8_t> in, size_t block = 4096) {
  std::vector<uint8_t> out;
  LZ4_stream_t* stream = LZ4_createStream();
  std::vector<char> inputs(2 * block);
  std::vector<char> compressed(static_cast<size_t>(LZ4_compressBound(static_cast<int>(block))));
  int index = 0;
  for (size_t pos = 0; pos < in.size() || (in.empty() && out.empty()); pos += block) {
    size_t n = std::min(block, in.size() - pos);
    char* input = inputs.data() + static_cast<size_t>(index) * block;
    std::memcpy(input, in.data() + pos, n);
    int c = LZ4_compress_fast_continue(stream, input, compressed.data(), static_cast<int>(n),
                                       static_cast<int>(compressed.size()), 1);
    EXPECT_GT(c, 0);
    for (int shift = 0; shift < 32; shift += 8) {
      out.push_back(static_cast<uint8_t>(static_cast<uint32_t>(c) >> shift));
    }
    out.insert(out.end(), compressed.begin(), compressed.begin() + c);
    index ^= 1;
    if (in.empty()) {
      break;
    }
  }
  LZ4_freeStream(stream);
  return out;
}

TEST(Lz4BlockStreamTest, DecodesPgmonetaBlockStreams) {
  // Repetitive data, so blocks refer back into the previous one.
  std::vector<uint8_t> text;
  for (int i = 0; text.size() < 300000; ++i) {
    for (uint8_t b :
         bytes_of("row " + std::to_string(i % 977) + " value " + std::to_string(i % 13) + ";")) {
      text.push_back(b);
    }
  }
  std::vector<uint8_t> mixed = join(text, random_bytes(70000, 4));
  mixed = join(mixed, compressible_bytes(3u << 20));
  for (const auto& in : {text, mixed, bytes_of("015\n"), std::vector<uint8_t>{}}) {
    std::vector<uint8_t> stream = lz4_block_stream(in);
    for (Split split : {Split::kWhole, Split::kOneByte, Split::kRandom}) {
      if (split == Split::kOneByte && in.size() > 400000) {
        continue;
      }
      auto d = stream_decompress(Algorithm::kLz4, stream, split, 7);
      ASSERT_TRUE(d.has_value()) << d.error().message();
      EXPECT_EQ(*d, in);
    }
    auto whole = decompress(Algorithm::kLz4, stream, 8u << 20);
    ASSERT_TRUE(whole.has_value()) << whole.error().message();
    EXPECT_EQ(*whole, in);
  }
  // Larger blocks (up to the limit) decode too.
  auto big = lz4_block_stream(text, size_t{1} << 20);
  auto d = stream_decompress(Algorithm::kLz4, big, Split::kRandom, 3);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, text);
}

TEST(Lz4BlockStreamTest, RejectsDamagedBlockStreams) {
  std::vector<uint8_t> in = compressible_bytes(50000);
  std::vector<uint8_t> stream = lz4_block_stream(in);
  // Cut inside a length or inside a block.
  for (size_t cut : {size_t{2}, size_t{6}, stream.size() - 1}) {
    auto d = stream_decompress(Algorithm::kLz4, std::span(stream.data(), cut), Split::kRandom);
    ASSERT_FALSE(d.has_value()) << cut;
    EXPECT_NE(d.error().message().find("truncated"), std::string::npos) << d.error().message();
  }
  // A length no block stream has.
  std::vector<uint8_t> huge = stream;
  huge[3] = 0x10;
  auto d = stream_decompress(Algorithm::kLz4, huge);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  // A block that does not decode (an offset before the start of the output).
  std::vector<uint8_t> bad = {5, 0, 0, 0, 0x1F, 0xFF, 0xFF, 0x00, 0x00};
  d = stream_decompress(Algorithm::kLz4, bad);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message().find("lz4 decompress"), std::string::npos) << d.error().message();
}

TEST(StreamNoneTest, PassesInputThroughWithoutCopying) {
  auto in = bytes_of("plain bytes");
  const uint8_t* seen = nullptr;
  Sink sink = [&seen](std::span<const uint8_t> chunk) -> Result<void> {
    seen = chunk.data();
    return {};
  };
  auto d = Decompressor::create(Algorithm::kNone);
  ASSERT_TRUE(d.has_value());
  ASSERT_TRUE(d->update(in, sink).has_value());
  EXPECT_EQ(seen, in.data());
  ASSERT_TRUE(d->finish(sink).has_value());
  EXPECT_EQ(d->bytes_out(), in.size());
  seen = nullptr;
  auto c = StreamCompressor::create(Algorithm::kNone, 3);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(c->update(in, sink).has_value());
  EXPECT_EQ(seen, in.data());
}

TEST(StreamCreateTest, RejectsUnknownAlgorithm) {
  auto bad = static_cast<Algorithm>(42);
  auto d = Decompressor::create(bad);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
  auto c = StreamCompressor::create(bad, 3);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
}

TEST(StreamCreateTest, MovedCodecKeepsWorking) {
  auto c = StreamCompressor::create(Algorithm::kGzip, 6);
  ASSERT_TRUE(c.has_value());
  StreamCompressor moved = std::move(*c);
  std::vector<uint8_t> out;
  ASSERT_TRUE(moved.update(bytes_of("moved"), collect(out)).has_value());
  ASSERT_TRUE(moved.finish(collect(out)).has_value());
  auto d = Decompressor::create(Algorithm::kGzip);
  ASSERT_TRUE(d.has_value());
  Decompressor dm = std::move(*d);
  std::vector<uint8_t> plain;
  ASSERT_TRUE(dm.update(out, collect(plain)).has_value());
  ASSERT_TRUE(dm.finish(collect(plain)).has_value());
  EXPECT_EQ(plain, bytes_of("moved"));
}

}  // namespace
}  // namespace pgm::compress
