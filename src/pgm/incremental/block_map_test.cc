#include "pgm/incremental/block_map.h"

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>

namespace pgm::incremental {
namespace {

using test_support::random_bytes;
using test_support::TempDir;

TEST(BlockHash, DiffersPerContentAndKnowsZeroBlocks) {
  const auto a = random_bytes(kBlockSize, 1);
  auto b = a;
  b[4000] ^= 0x01;  // one bit
  EXPECT_NE(hash_block(a), hash_block(b));
  EXPECT_EQ(hash_block(a), hash_block(a));
  EXPECT_EQ(zero_block_hash(), hash_block(std::vector<uint8_t>(kBlockSize, 0)));
  EXPECT_NE(zero_block_hash(), hash_block(a));
}

TEST(BlockHasher, SameHashesWhateverThePieces) {
  const auto file = random_bytes(kBlockSize * 5 + 100, 2);
  BlockHasher whole;
  whole.update(file);
  const auto expected = whole.finish();
  ASSERT_EQ(expected.size(), 6u);
  EXPECT_EQ(expected[1],
            hash_block(std::span<const uint8_t>(file).subspan(kBlockSize, kBlockSize)));
  EXPECT_EQ(expected[5], hash_block(std::span<const uint8_t>(file).subspan(5 * kBlockSize)));

  for (size_t piece : {1u, 7u, 4096u, 8191u, 8193u, 30000u}) {
    SCOPED_TRACE(piece);
    BlockHasher hasher;
    for (size_t at = 0; at < file.size(); at += piece) {
      hasher.update(std::span<const uint8_t>(file).subspan(at, std::min(piece, file.size() - at)));
    }
    EXPECT_EQ(hasher.finish(), expected);
  }
  BlockHasher empty;
  EXPECT_TRUE(empty.finish().empty());
}

TEST(MergeLogical, FollowsReconstructionRules) {
  const std::vector<BlockHash> parent = {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}};
  const std::vector<BlockHash> changed = {{20, 20}, {70, 70}};
  // Truncated to 3 blocks, then blocks 2 and 7 written: 3-6 were never written since.
  const Header header{.truncation_block_length = 3, .blocks = {2, 7}};
  const auto merged = merge_logical(parent, header, changed);
  ASSERT_EQ(merged.size(), 8u);
  EXPECT_EQ(merged[0], (BlockHash{1, 1}));
  EXPECT_EQ(merged[1], (BlockHash{2, 2}));
  EXPECT_EQ(merged[2], (BlockHash{20, 20}));
  for (int b = 3; b < 7; ++b) {
    EXPECT_EQ(merged[b], zero_block_hash()) << b;
  }
  EXPECT_EQ(merged[7], (BlockHash{70, 70}));

  // Grown past the parent: blocks the parent never had are zero unless present.
  const auto grown = merge_logical(parent, Header{.truncation_block_length = 7, .blocks = {6}},
                                   std::vector<BlockHash>{{60, 60}});
  ASSERT_EQ(grown.size(), 7u);
  EXPECT_EQ(grown[4], (BlockHash{5, 5}));
  EXPECT_EQ(grown[5], zero_block_hash());
  EXPECT_EQ(grown[6], (BlockHash{60, 60}));
}

BlockMap sample_map() {
  BlockMap map;
  map.add("base/5/16384", 3 * kBlockSize, std::vector<BlockHash>{{1, 2}, {3, 4}, {5, 6}});
  map.add("base/5/1259", 0, {});
  map.add("global/1262", kBlockSize, std::vector<BlockHash>{{7, 8}});
  EXPECT_TRUE(map.seal());
  return map;
}

TEST(BlockMap, FindsFilesAfterSealing) {
  const BlockMap map = sample_map();
  ASSERT_EQ(map.entries().size(), 3u);
  EXPECT_EQ(map.entries()[0].path, "base/5/1259");  // sorted
  const auto* e = map.find("base/5/16384");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, 3 * kBlockSize);
  ASSERT_EQ(map.hashes(*e).size(), 3u);
  EXPECT_EQ(map.hashes(*e)[2], (BlockHash{5, 6}));
  EXPECT_EQ(map.find("base/5/16385"), nullptr);
  EXPECT_EQ(map.find(""), nullptr);
  EXPECT_EQ(map.block_count(), 4u);

  BlockMap twice;
  twice.add("a", 0, {});
  twice.add("a", 0, {});
  EXPECT_FALSE(twice.seal());
}

// The streaming writer produces serialize()'s bytes, and refuses paths out of order or a
// count that does not match.
TEST(BlockMapWriter, WritesWhatSerializeWrites) {
  const BlockMap map = sample_map();
  std::string streamed;
  BlockMapWriter writer(map.entries().size(), [&streamed](std::string_view bytes) -> Result<void> {
    streamed.append(bytes);
    return {};
  });
  for (const BlockMap::Entry& e : map.entries()) {
    ASSERT_TRUE(writer.add(e.path, e.size, map.hashes(e)));
  }
  ASSERT_TRUE(writer.finish());
  EXPECT_EQ(streamed, map.serialize());

  auto discard = [](std::string_view) -> Result<void> { return {}; };
  BlockMapWriter unordered(2, discard);
  ASSERT_TRUE(unordered.add("b", 0, {}));
  EXPECT_FALSE(unordered.add("a", 0, {}));
  BlockMapWriter repeated(2, discard);
  ASSERT_TRUE(repeated.add("a", 0, {}));
  EXPECT_FALSE(repeated.add("a", 0, {}));
  BlockMapWriter short_one(2, discard);
  ASSERT_TRUE(short_one.add("a", 0, {}));
  EXPECT_FALSE(short_one.finish());
}

TEST(BlockMap, RoundTripsThroughAFile) {
  TempDir dir("pgm-blockmap");
  const BlockMap map = sample_map();
  ASSERT_TRUE(map.write(dir.file(kBlockMapFile)));
  auto back = BlockMap::read(dir.file(kBlockMapFile));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->serialize(), map.serialize());
  const auto* e = back->find("global/1262");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(back->hashes(*e)[0], (BlockHash{7, 8}));

  BlockMap unsealed;
  unsealed.add("x", 0, {});
  EXPECT_FALSE(unsealed.write(dir.file("other")));
}

TEST(BlockMap, EveryDamageIsCaught) {
  const std::string good = sample_map().serialize();
  ASSERT_TRUE(BlockMap::parse(good, "m"));
  // A flipped byte anywhere, and every truncation, fail with kCorruption naming the file.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    auto parsed = BlockMap::parse(bad, "backup.blockmap");
    ASSERT_FALSE(parsed) << "flip at " << i;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(parsed.error().message().find("backup.blockmap"), std::string::npos);
  }
  for (size_t n = 0; n < good.size(); ++n) {
    ASSERT_FALSE(BlockMap::parse(good.substr(0, n), "m")) << "length " << n;
  }
  EXPECT_EQ(BlockMap::read("/nonexistent/backup.blockmap").error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace pgm::incremental
