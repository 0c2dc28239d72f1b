#include "pgm/backup/stored_files.h"

#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/backup/crc32c.h"

namespace pgm::backup {
namespace {

// A few files with more hashes than fit beside others in one chunk.
size_t hash_count(int i) { return i % 1000 == 7 ? 40000 : static_cast<size_t>(i % 3); }

// Files come in any order and leave sorted by manifest path, each with the stored path it was
// given (a shared prefix, the manifest path's tail, the suffix unless plain), its digests,
// CRC-32C and block hashes; chunks of rows and hashes are crossed on the way.
class StoredFileListTest : public ::testing::TestWithParam<bool> {};

TEST_P(StoredFileListTest, KeepsEveryFieldAndSortsByManifestPath) {
  auto digest = [](uint8_t seed) {
    crypto::Sha512Digest d{};
    d.fill(seed);
    return d;
  };
  test_support::TempDir dir;
  // With a spool, the stored digests are read back from it.
  StoredFileList list(".zstd", GetParam() ? dir.path() : std::string());
  const int kFiles = 9000;  // more than one chunk of rows
  for (int i = kFiles - 1; i >= 0; --i) {
    const std::string name = "base/5/" + std::to_string(100000 + i);
    std::vector<incremental::BlockHash> hashes(hash_count(i));
    for (size_t b = 0; b < hashes.size(); ++b) {
      hashes[b] = {static_cast<uint64_t>(i), b};
    }
    NewStoredFile f;
    f.manifest_path = name;
    const std::string stored_base = "data/" + name;
    f.stored_base = stored_base;
    f.size = static_cast<uint64_t>(i);
    f.stored_size = static_cast<uint64_t>(i) / 2;
    f.sha512 = digest(static_cast<uint8_t>(i));
    f.stored_sha512 = digest(static_cast<uint8_t>(i + 1));
    f.crc32c = i % 2 == 0 ? std::optional<uint32_t>(static_cast<uint32_t>(i)) : std::nullopt;
    f.block_hashes = hashes;
    f.has_block_hashes = !hashes.empty();
    f.linked = i % 5 == 0;
    ASSERT_TRUE(list.add(f));
  }
  const std::string tablespace_base = "tblspc_ts1/PG_15_202209061/5/16400";
  NewStoredFile in_tablespace;
  in_tablespace.manifest_path = "pg_tblspc/16399/PG_15_202209061/5/16400";
  in_tablespace.stored_base = tablespace_base;
  ASSERT_TRUE(list.add(in_tablespace));
  NewStoredFile label;
  label.manifest_path = "backup_label";
  label.stored_base = "data/backup_label";
  label.plain = true;
  ASSERT_TRUE(list.add(label));
  ASSERT_TRUE(list.seal());

  ASSERT_EQ(list.size(), static_cast<size_t>(kFiles) + 2);
  EXPECT_EQ(list.manifest_path(0), "backup_label");
  EXPECT_EQ(list.stored_path(0), "data/backup_label");
  const size_t last = list.size() - 1;
  EXPECT_EQ(list.manifest_path(last), "pg_tblspc/16399/PG_15_202209061/5/16400");
  EXPECT_EQ(list.stored_path(last), tablespace_base + ".zstd");
  for (size_t at = 1; at < last; ++at) {
    const int i = static_cast<int>(at) - 1;
    SCOPED_TRACE(i);
    const std::string name = "base/5/" + std::to_string(100000 + i);
    ASSERT_EQ(list.manifest_path(at), name);
    ASSERT_EQ(list.stored_path(at), "data/" + name + ".zstd");
    EXPECT_EQ(list.file_size(at), static_cast<uint64_t>(i));
    EXPECT_EQ(list.stored_size(at), static_cast<uint64_t>(i) / 2);
    EXPECT_EQ(list.sha512(at), digest(static_cast<uint8_t>(i)));
    EXPECT_EQ(list.stored_sha512(at), digest(static_cast<uint8_t>(i + 1)));
    EXPECT_EQ(list.crc32c(at).has_value(), i % 2 == 0);
    EXPECT_EQ(list.linked(at), i % 5 == 0);
    const auto hashes = list.block_hashes(at);
    ASSERT_EQ(hashes.size(), hash_count(i));
    EXPECT_EQ(list.has_block_hashes(at), !hashes.empty());
    if (!hashes.empty()) {
      EXPECT_EQ(hashes.front(), (incremental::BlockHash{static_cast<uint64_t>(i), 0}));
      EXPECT_EQ(hashes.back(),
                (incremental::BlockHash{static_cast<uint64_t>(i), hashes.size() - 1}));
    }
  }
  // The materialised form spells the digests in hex.
  const StoredFile second = list[2];
  EXPECT_EQ(second.manifest_path, "base/5/100001");
  EXPECT_EQ(second.sha512, crypto::Sha512::hex(digest(1)));
  EXPECT_EQ(second.crc32c, "");
  EXPECT_EQ(list[1].crc32c, crc32c_manifest_hex(0));
}

INSTANTIATE_TEST_SUITE_P(SpooledOrInMemory, StoredFileListTest, ::testing::Bool());

}  // namespace
}  // namespace pgm::backup
