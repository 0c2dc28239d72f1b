#include "pgm/backup/delta_file.h"

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/incremental/format.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

using incremental::BlockHash;
using incremental::kBlockSize;
using test_support::random_bytes;
using test_support::TempDir;

std::vector<BlockHash> hashes_of(const std::vector<uint8_t>& file) {
  incremental::BlockHasher h;
  h.update(file);
  return h.finish();
}

// The INCREMENTAL file `bytes` (whose parsed header is `header`) holds, after its header and
// in the header's order, each listed block as `now` has it.
void expect_listed_blocks_stored(const std::vector<uint8_t>& bytes,
                                 const incremental::Header& header,
                                 const std::vector<uint8_t>& now) {
  for (size_t i = 0; i < header.blocks.size(); ++i) {
    const auto stored =
        std::span<const uint8_t>(bytes).subspan(header.size() + i * kBlockSize, kBlockSize);
    const auto want =
        std::span<const uint8_t>(now).subspan(size_t{header.blocks[i]} * kBlockSize, kBlockSize);
    EXPECT_TRUE(std::equal(stored.begin(), stored.end(), want.begin()))
        << "block " << header.blocks[i];
  }
}

struct Stored {
  DeltaOutcome outcome;
  std::vector<StoredFile> files;
  std::string dir;
};

// Streams `now` through a DeltaFile against `parent_file`'s hashes into a plain FileStore.
Stored run(const TempDir& dir, const std::vector<uint8_t>& parent_file,
           const std::vector<uint8_t>& now, size_t piece = 3000) {
  auto store = FileStore::create(dir.path(), StoreOptions{});
  EXPECT_TRUE(store);
  const auto parent = hashes_of(parent_file);
  auto delta = DeltaFile::create(**store, "data/base/5/16384", "base/5/16384", now.size(), parent,
                                 dir.path(), false);
  EXPECT_TRUE(delta) << delta.error().message();
  for (size_t at = 0; at < now.size(); at += piece) {
    auto w = (*delta)->write(
        std::span<const uint8_t>(now).subspan(at, std::min(piece, now.size() - at)));
    EXPECT_TRUE(w) << w.error().message();
  }
  auto outcome = (*delta)->finish();
  EXPECT_TRUE(outcome) << outcome.error().message();
  auto files = (*store)->finish();
  EXPECT_TRUE(files);
  std::vector<StoredFile> listed(files->begin(), files->end());
  return Stored{std::move(*outcome), std::move(listed), dir.path()};
}

std::vector<uint8_t> with_blocks_changed(std::vector<uint8_t> file,
                                         std::initializer_list<uint32_t> blocks) {
  for (uint32_t b : blocks) {
    file[size_t{b} * kBlockSize + 100] ^= 0xFF;
  }
  return file;
}

TEST(DeltaFile, StoresOnlyChangedAndNewBlocksInPostgresFormat) {
  TempDir dir("pgm-delta");
  const auto parent = random_bytes(20 * kBlockSize, 1);
  auto now = with_blocks_changed(parent, {3, 11});
  const auto tail = random_bytes(2 * kBlockSize, 2);  // grown by two blocks
  now.insert(now.end(), tail.begin(), tail.end());

  Stored s = run(dir, parent, now);
  EXPECT_TRUE(s.outcome.incremental);
  EXPECT_EQ(s.outcome.changed_blocks, 4u);
  EXPECT_EQ(s.outcome.size, now.size());
  EXPECT_EQ(crypto::Sha512::hex(s.outcome.sha512), test_support::sha512_hex(now));
  EXPECT_EQ(s.outcome.block_hashes, hashes_of(now));
  ASSERT_EQ(s.files.size(), 1u);
  EXPECT_EQ(s.files[0].manifest_path, "base/5/INCREMENTAL.16384");
  EXPECT_EQ(s.files[0].stored_path, "data/base/5/INCREMENTAL.16384");

  auto text = io::read_file(dir.file("data/base/5/INCREMENTAL.16384"));
  ASSERT_TRUE(text);
  std::vector<uint8_t> bytes(text->begin(), text->end());
  auto header = incremental::parse_header(bytes, "f");
  ASSERT_TRUE(header) << header.error().message();
  EXPECT_EQ(header->truncation_block_length, 22u);
  EXPECT_EQ(header->blocks, (std::vector<uint32_t>{3, 11, 20, 21}));
  ASSERT_TRUE(incremental::check_file_size(*header, bytes.size(), "f"));
  expect_listed_blocks_stored(bytes, *header, now);
}

TEST(DeltaFile, UnchangedFileIsAHeaderOnly) {
  TempDir dir("pgm-delta");
  const auto parent = random_bytes(8 * kBlockSize, 3);
  Stored s = run(dir, parent, parent, 8192);
  EXPECT_TRUE(s.outcome.incremental);
  auto text = io::read_file(dir.file("data/base/5/INCREMENTAL.16384"));
  ASSERT_TRUE(text);
  EXPECT_EQ(text->size(), 12u);
}

TEST(DeltaFile, TruncatedFileKeepsItsNewLength) {
  TempDir dir("pgm-delta");
  const auto parent = random_bytes(10 * kBlockSize, 4);
  const std::vector<uint8_t> now(parent.begin(), parent.begin() + 4 * kBlockSize);
  Stored s = run(dir, parent, now);
  ASSERT_TRUE(s.outcome.incremental);
  auto text = io::read_file(dir.file("data/base/5/INCREMENTAL.16384"));
  auto header = incremental::parse_header(std::vector<uint8_t>(text->begin(), text->end()), "f");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->truncation_block_length, 4u);
  EXPECT_TRUE(header->blocks.empty());
}

TEST(DeltaFile, NinetyPercentChangedOrNoParentIsStoredWhole) {
  const auto parent = random_bytes(10 * kBlockSize, 5);
  {
    TempDir dir("pgm-delta");
    Stored s = run(dir, parent, with_blocks_changed(parent, {0, 1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_FALSE(s.outcome.incremental);
    ASSERT_EQ(s.files.size(), 1u);
    EXPECT_EQ(s.files[0].manifest_path, "base/5/16384");
    EXPECT_EQ(*io::read_file(dir.file("data/base/5/16384")),
              std::string(reinterpret_cast<const char*>(
                              with_blocks_changed(parent, {0, 1, 2, 3, 4, 5, 6, 7, 8}).data()),
                          parent.size()));
  }
  {
    TempDir dir("pgm-delta");
    Stored s = run(dir, parent, with_blocks_changed(parent, {1, 2, 3, 4, 5, 6, 7, 8}));  // 80 %
    EXPECT_TRUE(s.outcome.incremental);
  }
  {
    TempDir dir("pgm-delta");
    Stored s = run(dir, {}, parent);  // absent from the parent: every block is new
    EXPECT_FALSE(s.outcome.incremental);
    EXPECT_EQ(s.outcome.block_hashes, hashes_of(parent));
  }
}

TEST(DeltaFile, LargeSpoolSpillsToAnUnnamedFileAndComesBackIntact) {
  const size_t saved = DeltaFile::memory_cap;
  DeltaFile::memory_cap = 3 * kBlockSize;
  TempDir dir("pgm-delta");
  const auto parent = random_bytes(40 * kBlockSize, 6);
  // Changed early (the spool fills before the decision), then a few more after it.
  const auto now = with_blocks_changed(parent, {0, 1, 2, 3, 4, 5, 6, 7, 30, 39});
  Stored s = run(dir, parent, now, 777);
  DeltaFile::memory_cap = saved;
  ASSERT_TRUE(s.outcome.incremental);
  auto text = io::read_file(dir.file("data/base/5/INCREMENTAL.16384"));
  std::vector<uint8_t> bytes(text->begin(), text->end());
  auto header = incremental::parse_header(bytes, "f");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->blocks, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 30, 39}));
  expect_listed_blocks_stored(bytes, *header, now);
  // Nothing but the stored file is left in the directory.
  auto names = io::list_directory(dir.file("data/base/5"));
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"INCREMENTAL.16384"}));
  EXPECT_EQ(*io::list_directory(dir.path()), (std::vector<std::string>{"data"}));
}

TEST(DeltaFile, WrongLengthsAreProtocolErrors) {
  TempDir dir("pgm-delta");
  auto store = FileStore::create(dir.path(), StoreOptions{});
  ASSERT_TRUE(store);
  const auto bytes = random_bytes(2 * kBlockSize, 7);
  auto delta =
      DeltaFile::create(**store, "data/base/5/1", "base/5/1", bytes.size(), {}, dir.path(), false);
  ASSERT_TRUE(delta);
  ASSERT_TRUE((*delta)->write(std::span<const uint8_t>(bytes).first(100)));
  auto short_file = (*delta)->finish();
  ASSERT_FALSE(short_file);
  EXPECT_EQ(short_file.error().code(), ErrorCode::kProtocol);

  auto again =
      DeltaFile::create(**store, "data/base/5/2", "base/5/2", kBlockSize, {}, dir.path(), false);
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)->write(bytes));  // more than announced

  EXPECT_FALSE(DeltaFile::create(**store, "data/base/5/pg_filenode.map", "base/5/pg_filenode.map",
                                 512, {}, dir.path(), false));
}

}  // namespace
}  // namespace pgm::backup
