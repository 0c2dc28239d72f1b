// FileStore's per-block hashes (StoreOptions::block_hashes), from which full backups write
// their block map.
#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/backup/store.h"
#include "pgm/incremental/block_map.h"

namespace pgm::backup {
namespace {

using incremental::BlockHash;
using incremental::kBlockSize;
using test_support::random_bytes;
using test_support::TempDir;

struct Input {
  const char* manifest_path;
  size_t size;
  bool plain;
  bool expect_hashes;
};

TEST(FileStoreBlockHashes, RelationSegmentsGetOneHashPerBlockWhateverTheWrites) {
  TempDir dir("pgm-store-hashes");
  StoreOptions options;
  options.algorithm = compress::Algorithm::kZstd;
  options.workers = 2;
  options.block_size = 64 * 1024;
  options.block_hashes = true;
  auto store = FileStore::create(dir.path(), options);
  ASSERT_TRUE(store) << store.error().message();

  const Input inputs[] = {
      {"base/5/16384", 10 * kBlockSize, false, true},
      {"base/5/16384_vm", kBlockSize, false, true},
      {"base/5/16385", 0, false, true},                     // empty relation: candidate, no hashes
      {"base/5/16384_fsm", 3 * kBlockSize, false, false},   // sent whole by PostgreSQL
      {"base/5/16386", 2 * kBlockSize + 17, false, false},  // odd size
      {"base/5/pg_filenode.map", 512, false, false},
      {"global/pg_control", kBlockSize, false, false},
      {"backup_label", 200, true, false},
  };
  std::vector<std::vector<uint8_t>> contents;
  uint32_t seed = 1;
  for (const Input& in : inputs) {
    contents.push_back(random_bytes(in.size, seed++));
    ASSERT_TRUE(
        (*store)->begin_file(std::string("data/") + in.manifest_path, in.manifest_path, in.plain));
    // Pieces that straddle block boundaries.
    const auto& bytes = contents.back();
    for (size_t at = 0; at < bytes.size(); at += 5000) {
      ASSERT_TRUE((*store)->write(
          std::span<const uint8_t>(bytes).subspan(at, std::min<size_t>(5000, bytes.size() - at))));
    }
    ASSERT_TRUE((*store)->end_file());
  }
  auto files = (*store)->finish();
  ASSERT_TRUE(files) << files.error().message();
  for (size_t i = 0; i < std::size(inputs); ++i) {
    SCOPED_TRACE(inputs[i].manifest_path);
    auto it = std::find_if(files->begin(), files->end(), [&](const StoredFile& f) {
      return f.manifest_path == inputs[i].manifest_path;
    });
    ASSERT_NE(it, files->end());
    const StoredFile file = *it;
    EXPECT_EQ(file.has_block_hashes, inputs[i].expect_hashes);
    if (!inputs[i].expect_hashes) {
      EXPECT_TRUE(file.block_hashes.empty());
      continue;
    }
    ASSERT_EQ(file.block_hashes.size(), inputs[i].size / kBlockSize);
    for (size_t b = 0; b < file.block_hashes.size(); ++b) {
      EXPECT_EQ(file.block_hashes[b],
                incremental::hash_block(
                    std::span<const uint8_t>(contents[i]).subspan(b * kBlockSize, kBlockSize)))
          << "block " << b;
    }
  }
}

TEST(FileStoreBlockHashes, OffByDefault) {
  TempDir dir("pgm-store-hashes");
  auto store = FileStore::create(dir.path(), StoreOptions{});
  ASSERT_TRUE(store);
  const auto bytes = random_bytes(2 * kBlockSize, 9);
  ASSERT_TRUE((*store)->begin_file("data/base/5/16384", "base/5/16384", false));
  ASSERT_TRUE((*store)->write(bytes));
  ASSERT_TRUE((*store)->end_file());
  auto files = (*store)->finish();
  ASSERT_TRUE(files);
  EXPECT_FALSE(files->front().has_block_hashes);
  EXPECT_TRUE(files->front().block_hashes.empty());
}

}  // namespace
}  // namespace pgm::backup
