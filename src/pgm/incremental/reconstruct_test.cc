#include "pgm/incremental/reconstruct.h"

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "pgm/incremental/block_map.h"

namespace pgm::incremental {
namespace {

// A block whose bytes tell which content it is (0 = all zero, as PostgreSQL zero-fills).
std::vector<uint8_t> block_of(uint32_t content) {
  std::vector<uint8_t> block(kBlockSize, 0);
  if (content != 0) {
    for (size_t i = 0; i < kBlockSize; i += 4) {
      const uint32_t word = content * 2654435761u + static_cast<uint32_t>(i);
      std::memcpy(&block[i], &word, 4);
    }
  }
  return block;
}

using Contents = std::vector<uint32_t>;  // a file as its blocks' contents

std::vector<uint8_t> full_bytes(const Contents& file) {
  std::vector<uint8_t> out;
  for (uint32_t c : file) {
    const auto b = block_of(c);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// A stored INCREMENTAL file: header bytes, then the blocks.
struct Stored {
  Version version;
  std::vector<uint8_t> bytes;
};

Stored store_full(const Contents& file) {
  auto bytes = full_bytes(file);
  return Stored{Version::full(bytes.size(), "full"), std::move(bytes)};
}

Stored store_incremental(const Header& header, const std::vector<uint32_t>& contents) {
  auto encoded = encode_header(header);
  EXPECT_TRUE(encoded);
  std::vector<uint8_t> bytes = *encoded;
  for (uint32_t c : contents) {
    const auto b = block_of(c);
    bytes.insert(bytes.end(), b.begin(), b.end());
  }
  return Stored{Version::incremental(header, "INCREMENTAL.f"), std::move(bytes)};
}

// Block-delta: the blocks of `now` that differ from `before` (or lie past its end).
Stored delta(const Contents& before, const Contents& now) {
  Header header{.truncation_block_length = static_cast<uint32_t>(now.size()), .blocks = {}};
  std::vector<uint32_t> contents;
  for (uint32_t b = 0; b < now.size(); ++b) {
    if (b >= before.size() || before[b] != now[b]) {
      header.blocks.push_back(b);
      contents.push_back(now[b]);
    }
  }
  return store_incremental(header, contents);
}

// Runs a plan: each version's bytes go through a BlockRouter in pieces of `piece` bytes.
Result<std::vector<uint8_t>> run(const Plan& plan, const std::vector<Stored>& chain, size_t piece) {
  std::vector<uint8_t> out(plan.output_size(), 0xEE);  // not zero: zero-fill must be explicit
  for (uint32_t b : plan.zeros) {
    std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(uint64_t{b} * kBlockSize), kBlockSize, 0);
  }
  for (size_t v = 0; v < plan.reads.size(); ++v) {
    BlockRouter router(
        plan.reads[v], expected_size(chain[v].version), chain[v].version.name,
        [&](uint32_t target, std::span<const uint8_t> block) -> Result<void> {
          EXPECT_EQ(block.size(), kBlockSize);
          std::copy(block.begin(), block.end(),
                    out.begin() + static_cast<std::ptrdiff_t>(uint64_t{target} * kBlockSize));
          return {};
        });
    const auto& bytes = chain[v].bytes;
    for (size_t at = 0; at < bytes.size(); at += piece) {
      auto fed = router.consume(
          std::span<const uint8_t>(bytes).subspan(at, std::min(piece, bytes.size() - at)));
      if (!fed) {
        return tl::unexpected(fed.error());
      }
    }
    if (auto done = router.finish(); !done) {
      return tl::unexpected(done.error());
    }
  }
  return out;
}

std::vector<Version> versions(const std::vector<Stored>& chain) {
  std::vector<Version> out;
  for (const auto& s : chain) {
    out.push_back(s.version);
  }
  return out;
}

TEST(Reconstruct, NewestBlocksThenOlderIncrementalsThenTheFullFile) {
  const Contents full = {1, 2, 3, 4, 5, 6};
  // Newest first: c2 has block 1; c1 has blocks 1 and 2; the full file the rest.
  const std::vector<Stored> chain = {
      store_incremental(Header{.truncation_block_length = 6, .blocks = {1}}, {21}),
      store_incremental(Header{.truncation_block_length = 6, .blocks = {1, 2}}, {11, 12}),
      store_full(full),
  };
  auto plan = plan_reconstruction(versions(chain));
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->block_length, 6u);
  ASSERT_EQ(plan->reads.size(), 3u);
  EXPECT_EQ(plan->reads[0], (std::vector<Read>{{8192, 1}}));
  EXPECT_EQ(plan->reads[1],
            (std::vector<Read>{{8192 + 8192, 2}}));  // after the header, its second block
  EXPECT_EQ(plan->reads[2].size(), 4u);
  EXPECT_TRUE(plan->zeros.empty());
  auto out = run(*plan, chain, 5000);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, full_bytes({1, 21, 12, 4, 5, 6}));
}

TEST(Reconstruct, TruncationHidesOlderBlocksAndGapsAreZero) {
  // The full copy had 6 blocks; the table was truncated to 2, then block 4 was written.
  const std::vector<Stored> chain = {
      store_incremental(Header{.truncation_block_length = 2, .blocks = {4}}, {40}),
      store_full({1, 2, 3, 4, 5, 6}),
  };
  auto plan = plan_reconstruction(versions(chain));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->block_length, 5u);
  EXPECT_EQ(plan->zeros, (std::vector<uint32_t>{2, 3}));
  auto out = run(*plan, chain, 8192);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, full_bytes({1, 2, 0, 0, 40}));
}

TEST(Reconstruct, AFullFileShorterThanTheTruncationLengthIsZeroFilled) {
  // Extended without WAL (pg_combinebackup's comment): blocks beyond the old full copy.
  const std::vector<Stored> chain = {
      store_incremental(Header{.truncation_block_length = 4, .blocks = {}}, {}),
      store_full({7, 8}),
  };
  auto plan = plan_reconstruction(versions(chain));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->zeros, (std::vector<uint32_t>{2, 3}));
  auto out = run(*plan, chain, 1);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, full_bytes({7, 8, 0, 0}));
}

TEST(Reconstruct, RefusesChainsItCannotRebuild) {
  const std::vector<Stored> newest_full = {store_full({1})};
  EXPECT_EQ(plan_reconstruction(versions(newest_full)).error().code(), ErrorCode::kInvalidArgument);

  const std::vector<Stored> no_full = {
      store_incremental(Header{.truncation_block_length = 3, .blocks = {0}}, {1}),
      store_incremental(Header{.truncation_block_length = 3, .blocks = {1}}, {2}),
  };
  auto plan = plan_reconstruction(versions(no_full));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(plan.error().message().find("INCREMENTAL.f"), std::string::npos);

  // Every block found before the chain ends: no full copy needed.
  const std::vector<Stored> covered = {
      store_incremental(Header{.truncation_block_length = 2, .blocks = {0}}, {1}),
      store_incremental(Header{.truncation_block_length = 2, .blocks = {1}}, {2}),
  };
  auto ok = plan_reconstruction(versions(covered));
  ASSERT_TRUE(ok);
  EXPECT_EQ(*run(*ok, covered, 3), full_bytes({1, 2}));
}

TEST(BlockRouter, CatchesShortLongAndFailingStreams) {
  const std::vector<Read> reads = {{0, 0}};
  std::vector<uint8_t> bytes(kBlockSize * 2, 1);
  auto ignore = [](uint32_t, std::span<const uint8_t>) -> Result<void> { return {}; };

  BlockRouter short_one(reads, bytes.size(), "short", ignore);
  ASSERT_TRUE(short_one.consume(std::span<const uint8_t>(bytes).first(100)));
  auto r1 = short_one.finish();
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r1.error().message().find("short"), std::string::npos);

  BlockRouter long_one(reads, bytes.size() - 1, "long", ignore);
  EXPECT_FALSE(long_one.consume(bytes));

  BlockRouter failing(reads, bytes.size(), "failing",
                      [](uint32_t, std::span<const uint8_t>) -> Result<void> {
                        return make_error(ErrorCode::kIo, "disk full");
                      });
  auto r2 = failing.consume(bytes);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "disk full");
}

TEST(BlockRouter, AShortFullFileLeavesItsMissingBlocksUnmet) {
  const std::vector<Read> reads = {{0, 0}, {8192, 1}, {16384, 2}, {24576, 3}};
  std::vector<uint32_t> written;
  BlockRouter router(reads, 4 * kBlockSize, "full",
                     [&](uint32_t target, std::span<const uint8_t>) -> Result<void> {
                       written.push_back(target);
                       return {};
                     });
  router.allow_short();
  const std::vector<uint8_t> bytes(kBlockSize * 2 + 100, 3);  // a partial third block
  ASSERT_TRUE(router.consume(bytes));
  ASSERT_TRUE(router.finish());
  EXPECT_EQ(written, (std::vector<uint32_t>{0, 1}));
  ASSERT_EQ(router.unmet().size(), 2u);
  EXPECT_EQ(router.unmet()[0].target, 2u);
}

TEST(Merge, ChildBlocksWinParentBlocksBelowTheTruncationLengthSurvive) {
  const Header parent{.truncation_block_length = 10, .blocks = {1, 3, 5, 8}};
  const Header child{.truncation_block_length = 6, .blocks = {3, 4, 7}};
  const MergePlan plan = plan_merge(child, parent);
  EXPECT_EQ(plan.header.truncation_block_length, 6u);
  EXPECT_EQ(plan.header.blocks, (std::vector<uint32_t>{1, 3, 4, 5, 7}));
  // child blocks 3, 4, 7 -> merged indexes 1, 2, 4; parent blocks 1, 5 -> 0, 3.
  EXPECT_EQ(plan.reads[0], (std::vector<Read>{{8192, 1}, {8192 * 2, 2}, {8192 * 3, 4}}));
  EXPECT_EQ(plan.reads[1], (std::vector<Read>{{8192, 0}, {8192 * 3, 3}}));
}

// The property that matters: for random histories of a file, every backup of a chain of
// block-delta incrementals reconstructs the file exactly, and rolling any parent into its
// child leaves a chain that still does.
TEST(Reconstruct, RandomChainsRebuildEveryBackupExactly) {
  std::mt19937 rng(20261207);
  uint32_t next_content = 1;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    std::vector<Contents> states;
    Contents file(rng() % 12);
    for (auto& c : file) {
      c = next_content++;
    }
    states.push_back(file);
    std::vector<Stored> stored = {store_full(file)};  // oldest first here
    const int backups = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < backups; ++k) {
      // Change some blocks, sometimes truncate, sometimes extend (maybe with zero blocks).
      for (auto& c : file) {
        if (rng() % 4 == 0) {
          c = next_content++;
        }
      }
      if (rng() % 5 == 0) {
        file.resize(rng() % (file.size() + 1));
      }
      if (rng() % 3 == 0) {
        const size_t grow = rng() % 5;
        for (size_t i = 0; i < grow; ++i) {
          file.push_back(rng() % 3 == 0 ? 0 : next_content++);
        }
      }
      states.push_back(file);
      stored.push_back(rng() % 8 == 0 ? store_full(file) : delta(states[states.size() - 2], file));
    }
    // Rebuild the newest backup of every prefix of the chain.
    for (size_t newest = 1; newest < stored.size(); ++newest) {
      if (stored[newest].version.kind == Version::Kind::kFull) {
        continue;
      }
      std::vector<Stored> chain(
          stored.rbegin() + static_cast<std::ptrdiff_t>(stored.size() - 1 - newest), stored.rend());
      auto plan = plan_reconstruction(versions(chain));
      ASSERT_TRUE(plan) << plan.error().message();
      auto out = run(*plan, chain, 1 + rng() % 20000);
      ASSERT_TRUE(out) << out.error().message();
      ASSERT_EQ(*out, full_bytes(states[newest])) << "backup " << newest;
    }
    // Roll backup 1 into backup 2 when both are incremental.
    if (stored.size() >= 3 && stored[1].version.kind == Version::Kind::kIncremental &&
        stored[2].version.kind == Version::Kind::kIncremental) {
      const MergePlan merge = plan_merge(stored[2].version.header, stored[1].version.header);
      std::vector<uint8_t> merged = *encode_header(merge.header);
      merged.resize(merge.header.file_size());
      for (int side = 0; side < 2; ++side) {
        const Stored& from = stored[side == 0 ? 2 : 1];
        BlockRouter router(
            merge.reads[side], from.bytes.size(), "m",
            [&](uint32_t target, std::span<const uint8_t> block) -> Result<void> {
              std::copy(block.begin(), block.end(),
                        merged.begin() + static_cast<std::ptrdiff_t>(
                                             merge.header.size() + uint64_t{target} * kBlockSize));
              return {};
            });
        ASSERT_TRUE(router.consume(from.bytes));
        ASSERT_TRUE(router.finish());
      }
      const std::vector<Stored> rolled = {
          Stored{Version::incremental(merge.header, "merged"), merged}, stored[0]};
      auto plan = plan_reconstruction(versions(rolled));
      ASSERT_TRUE(plan);
      auto out = run(*plan, rolled, 8192);
      ASSERT_TRUE(out);
      ASSERT_EQ(*out, full_bytes(states[2])) << "after rollup";
    }
  }
}

// A backup's logical map, merged from its parent's and its INCREMENTAL file, equals the
// hashes of the reconstructed file.
TEST(Reconstruct, MergedLogicalMapMatchesTheReconstructedFile) {
  const Contents before = {1, 2, 3, 4, 5};
  const Contents after = {1, 9, 3, 0, 5, 6, 0};
  const Stored inc = delta(before, after);
  std::vector<BlockHash> parent;
  for (uint32_t c : before) {
    parent.push_back(hash_block(block_of(c)));
  }
  std::vector<BlockHash> changed;
  for (uint32_t b : inc.version.header.blocks) {
    changed.push_back(hash_block(block_of(after[b])));
  }
  BlockHasher expected;
  expected.update(full_bytes(after));
  EXPECT_EQ(merge_logical(parent, inc.version.header, changed), expected.finish());
}

}  // namespace
}  // namespace pgm::incremental
