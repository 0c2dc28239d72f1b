#include "pgm/backup/store.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/backup/info.h"
#include "pgm/compress/stream.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

namespace fs = std::filesystem;
using compress::Algorithm;

using test_support::TempDir;

// Half-compressible contents: runs of letters between runs of random bytes.
using test_support::half_random_bytes;
using test_support::sha512_hex;

crypto::MasterKey test_key() {
  crypto::MasterKey k;
  k.bytes.assign(crypto::kMasterKeyLength, 7);
  return k;
}

// Reads a stored file back to plaintext.
std::vector<uint8_t> restore(const std::string& path, Algorithm a, crypto::AesMode mode,
                             const crypto::MasterKey& key) {
  auto text = io::read_file(path);
  EXPECT_TRUE(text.has_value()) << path;
  std::vector<uint8_t> bytes(text->begin(), text->end());
  if (mode != crypto::AesMode::kNone) {
    auto d = crypto::AesGcmDecryptor::create(key, mode);
    std::vector<uint8_t> plain;
    EXPECT_TRUE(d->update(bytes, plain).has_value());
    EXPECT_TRUE(d->finish(plain).has_value());
    bytes = std::move(plain);
  }
  if (a != Algorithm::kNone) {
    auto d = compress::Decompressor::create(a);
    std::vector<uint8_t> plain;
    auto sink = [&plain](std::span<const uint8_t> b) -> Result<void> {
      plain.insert(plain.end(), b.begin(), b.end());
      return {};
    };
    EXPECT_TRUE(d->update(bytes, sink).has_value());
    EXPECT_TRUE(d->finish(sink).has_value());
    bytes = std::move(plain);
  }
  return bytes;
}

struct Case {
  Algorithm algorithm;
  crypto::AesMode mode;
  int workers;
};

class FileStoreTest : public ::testing::TestWithParam<Case> {};

TEST_P(FileStoreTest, StoresFilesThatReadBackWithTheirHashes) {
  const Case c = GetParam();
  TempDir dir;
  crypto::MasterKey key = test_key();
  StoreOptions o;
  o.algorithm = c.algorithm;
  o.encryption = c.mode;
  o.key = &key;
  o.workers = c.workers;
  o.block_size = 64 * 1024;  // many blocks per file
  auto store = FileStore::create(dir.path(), o);
  ASSERT_TRUE(store.has_value()) << store.error().message();

  // Sizes around block boundaries, an empty file, a plain file.
  std::vector<size_t> sizes = {0, 1, 65535, 65536, 65537, 300000, 1 << 20};
  std::vector<std::vector<uint8_t>> contents;
  for (size_t i = 0; i < sizes.size(); ++i) {
    contents.push_back(half_random_bytes(sizes[i], static_cast<uint32_t>(i)));
    std::string name = "data/base/1/" + std::to_string(i);
    ASSERT_TRUE((*store)->begin_file(name, "base/1/" + std::to_string(i), false).has_value());
    // Odd-sized writes.
    std::span<const uint8_t> rest(contents.back());
    while (!rest.empty()) {
      size_t n = std::min<size_t>(rest.size(), 7777);
      ASSERT_TRUE((*store)->write(rest.first(n)).has_value());
      rest = rest.subspan(n);
    }
    ASSERT_TRUE((*store)->end_file().has_value());
  }
  std::vector<uint8_t> label = half_random_bytes(200, 99);
  ASSERT_TRUE((*store)->begin_file("data/backup_label", "backup_label", true).has_value());
  ASSERT_TRUE((*store)->write(label).has_value());
  ASSERT_TRUE((*store)->end_file().has_value());

  auto files = (*store)->finish();
  ASSERT_TRUE(files.has_value()) << files.error().message();
  ASSERT_EQ(files->size(), sizes.size() + 1);
  uint64_t total = 0;
  for (const StoredFile& f : *files) {
    if (f.manifest_path == "backup_label") {
      EXPECT_EQ(f.stored_path, "data/backup_label");
      EXPECT_EQ(f.sha512, sha512_hex(label));
      EXPECT_EQ(
          restore(dir.path() + "/" + f.stored_path, Algorithm::kNone, crypto::AesMode::kNone, key),
          label);
      continue;
    }
    size_t i = std::stoul(f.manifest_path.substr(7));
    EXPECT_EQ(f.size, sizes[i]);
    total += f.size;
    EXPECT_EQ(f.sha512, sha512_hex(contents[i])) << f.manifest_path;
    std::string path = dir.path() + "/" + f.stored_path;
    EXPECT_EQ(fs::file_size(path), f.stored_size);
    auto stored = io::read_file(path);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(f.stored_sha512, sha512_hex(*stored));
    EXPECT_EQ(restore(path, c.algorithm, c.mode, key), contents[i]) << f.manifest_path;
  }
  EXPECT_EQ((*store)->bytes_in(), total + label.size());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, FileStoreTest,
                         ::testing::Values(Case{Algorithm::kNone, crypto::AesMode::kNone, 1},
                                           Case{Algorithm::kZstd, crypto::AesMode::kNone, 1},
                                           Case{Algorithm::kZstd, crypto::AesMode::kNone, 3},
                                           Case{Algorithm::kLz4, crypto::AesMode::kNone, 2},
                                           Case{Algorithm::kGzip, crypto::AesMode::kNone, 2},
                                           Case{Algorithm::kBzip2, crypto::AesMode::kNone, 2},
                                           Case{Algorithm::kNone, crypto::AesMode::kAes256Gcm, 2},
                                           Case{Algorithm::kZstd, crypto::AesMode::kAes256Gcm, 2},
                                           Case{Algorithm::kBzip2, crypto::AesMode::kAes128Gcm,
                                                1}));

// StoreOptions::identical: a one-block file with a known twin is hardlinked, not written; a
// file of more blocks, a changed file, a plain file and a failed link are stored as usual.
TEST(FileStoreIdenticalTest, AOneBlockFileWithATwinIsHardlinkedNotWritten) {
  TempDir dir;
  ASSERT_TRUE(io::make_directories(dir.path() + "/old", 0700).has_value());
  ASSERT_TRUE(io::make_directories(dir.path() + "/new", 0700).has_value());
  const std::vector<uint8_t> small = half_random_bytes(8192, 1);
  const std::vector<uint8_t> large = half_random_bytes(200000, 2);  // > one 64 KB block
  const std::string twin = dir.path() + "/old/twin.zstd";
  ASSERT_TRUE(io::write_file_atomic(twin, "stored bytes of the twin", 0600).has_value());
  std::vector<std::string> asked;
  StoreOptions o;
  o.algorithm = Algorithm::kZstd;
  o.block_size = 64 * 1024;
  o.workers = 2;
  const crypto::Sha512Digest twin_digest{1, 2, 3};
  o.identical = [&](std::string_view path,
                    const crypto::Sha512Digest& sha) -> std::optional<IdenticalFile> {
    asked.emplace_back(path);
    if (path == "changed" ||
        (path != "missing" &&
         crypto::Sha512::hex(sha) != sha512_hex(path == "large" ? large : small))) {
      return std::nullopt;
    }
    IdenticalFile f;
    f.path = path == "missing" ? dir.path() + "/old/gone.zstd" : twin;
    f.stored_size = 24;
    f.stored_sha512 = twin_digest;
    return f;
  };
  auto store = FileStore::create(dir.path() + "/new", o);
  ASSERT_TRUE(store.has_value());
  for (const char* name : {"same", "large", "changed", "missing", "label"}) {
    const std::vector<uint8_t>& bytes = std::string_view(name) == "large" ? large : small;
    ASSERT_TRUE((*store)->begin_file(name, name, std::string_view(name) == "label").has_value());
    ASSERT_TRUE((*store)->write(bytes).has_value());
    ASSERT_TRUE((*store)->end_file().has_value());
  }
  auto files = (*store)->finish();
  ASSERT_TRUE(files.has_value()) << files.error().message();
  // Asked about every compressed file of one block: not the large one (its first blocks went to
  // the workers before its hash was known), never the plain one.
  EXPECT_EQ(asked, (std::vector<std::string>{"same", "changed", "missing"}));
  struct stat twin_st {};
  ASSERT_EQ(::stat(twin.c_str(), &twin_st), 0);
  for (const StoredFile& f : *files) {
    const std::string path = dir.path() + "/new/" + f.stored_path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    const bool same_inode = st.st_ino == twin_st.st_ino;
    if (f.manifest_path == "same") {
      EXPECT_TRUE(f.linked);
      EXPECT_TRUE(same_inode);
      EXPECT_EQ(f.size, small.size());
      EXPECT_EQ(f.sha512, sha512_hex(small));
      EXPECT_EQ(f.stored_size, 24u);
      EXPECT_EQ(f.stored_sha512, crypto::Sha512::hex(twin_digest));
      EXPECT_EQ(f.stored_path, "same.zstd");
    } else {
      EXPECT_FALSE(f.linked) << f.manifest_path;
      EXPECT_FALSE(same_inode) << f.manifest_path;
      const std::vector<uint8_t>& bytes = f.manifest_path == "large" ? large : small;
      Algorithm a = f.manifest_path == "label" ? Algorithm::kNone : Algorithm::kZstd;
      crypto::MasterKey key = test_key();
      EXPECT_EQ(restore(path, a, crypto::AesMode::kNone, key), bytes) << f.manifest_path;
    }
  }
  EXPECT_EQ(twin_st.st_nlink, 2u);  // the twin and "same"
}

TEST(FileStoreErrorTest, EncryptionWithoutKeyIsRefused) {
  TempDir dir;
  StoreOptions o;
  o.encryption = crypto::AesMode::kAes256Gcm;
  auto store = FileStore::create(dir.path(), o);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), ErrorCode::kInvalidArgument);
}

TEST(FileStoreErrorTest, AWriteFailureStopsTheStoreAndNamesTheFile) {
  // The file's name is taken by a directory: opening it fails in a worker (root too).
  TempDir dir;
  ASSERT_EQ(::mkdir((dir.path() + "/ro").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/ro/file").c_str(), 0700), 0);
  StoreOptions o;
  o.workers = 2;
  auto store = FileStore::create(dir.path(), o);
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE((*store)->begin_file("ro/file", "file", false).has_value());
  std::vector<uint8_t> data(1000, 1);
  ASSERT_TRUE((*store)->write(data).has_value());
  ASSERT_TRUE((*store)->end_file().has_value());
  auto files = (*store)->finish();
  ASSERT_FALSE(files.has_value());
  EXPECT_NE(files.error().message().find("ro/file"), std::string::npos) << files.error().message();
}

TEST(FileStoreErrorTest, AWriteFailureOnFullDiskIsReported) {
  // /dev/full answers every write with ENOSPC.
  if (!fs::exists("/dev/full")) {
    GTEST_SKIP();
  }
  TempDir dir;
  fs::create_symlink("/dev/full", dir.path() + "/full.zstd");
  StoreOptions o;
  o.algorithm = Algorithm::kZstd;
  auto store = FileStore::create(dir.path(), o);
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE((*store)->begin_file("full", "full", false).has_value());
  std::vector<uint8_t> data = half_random_bytes(500000, 1);
  // The producer may or may not see the error before finish(); finish() must.
  (*store)->write(data).ignore_error();
  (*store)->end_file().ignore_error();
  auto files = (*store)->finish();
  ASSERT_FALSE(files.has_value());
  EXPECT_NE(files.error().message().find("No space left"), std::string::npos)
      << files.error().message();
}

TEST(FileStoreMemoryTest, ALargeFileNeedsOnlyTheBlocksInFlight) {
  // 64 MiB through 64 KiB blocks with at most 6 in flight: the producer must be throttled, and
  // the result must still be complete and in order.
  TempDir dir;
  StoreOptions o;
  o.algorithm = Algorithm::kLz4;
  o.workers = 2;
  o.block_size = 64 * 1024;
  o.max_blocks_in_flight = 6;
  auto store = FileStore::create(dir.path(), o);
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE((*store)->begin_file("big", "big", false).has_value());
  auto h = crypto::Sha512::create();
  std::vector<uint8_t> chunk = half_random_bytes(1 << 20, 5);
  for (int i = 0; i < 64; ++i) {
    chunk[0] = static_cast<uint8_t>(i);
    h->update(chunk);
    ASSERT_TRUE((*store)->write(chunk).has_value());
  }
  ASSERT_TRUE((*store)->end_file().has_value());
  auto files = (*store)->finish();
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].size, 64u << 20);
  EXPECT_EQ((*files)[0].sha512, crypto::Sha512::hex(h->final()));
}

}  // namespace
}  // namespace pgm::backup
