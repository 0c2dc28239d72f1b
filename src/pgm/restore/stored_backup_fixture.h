// Test fixture: a small stored backup written the way run_full_backup writes one (FileStore
// for data/, then backup.manifest, backup.sha512, backup.info), in a temporary directory.
// Shared by the restore module's tests.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/backup/info.h"
#include "pgm/backup/store.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::restore::test_support {

namespace fs = std::filesystem;

struct Format {
  const char* name;
  compress::Algorithm algorithm;
  uint8_t compression;  // backup.info's COMPRESSION byte
  crypto::AesMode encryption;
  const char* suffix;
};

const Format kZstd{"zstd", compress::Algorithm::kZstd, 0x12, crypto::AesMode::kNone, ".zstd"};
const Format kZstdAes{"zstd_aes", compress::Algorithm::kZstd, 0x12, crypto::AesMode::kAes256Gcm,
                      ".zstd.aes"};

// Compressible but not to nothing, and different for each seed.
inline std::string content(size_t size, int seed) {
  return pgm::test_support::compressible_string(size, "tuple " + std::to_string(seed) + ";");
}

class StoredBackupTest : public ::testing::Test {
 protected:
  // The files the fixture stores, with their sizes; file i holds content(size, i + 1).
  static const std::vector<std::pair<std::string, size_t>>& stored_files() {
    static const std::vector<std::pair<std::string, size_t>> files = {
        {"PG_VERSION", 3},
        {"backup_label", 200},
        {"base/1/1259", 300 << 10},
        {"base/1/1249", 40 << 10},
        {"base/1/2619", 120 << 10},
        {"global/pg_control", 8192},
        {"pg_wal/000000010000000000000002", 0}};
    return files;
  }

  void SetUp() override {
    dir_ = tmp_ + "/20240101120000";
    key_.bytes.assign(crypto::kMasterKeyLength, 0x5a);
  }

  // A backup as run_full_backup writes it: FileStore for data/, then backup.manifest,
  // backup.sha512 and backup.info.
  void build(const Format& f) {
    format_ = f;
    fs::create_directories(dir_ + "/data");
    backup::StoreOptions so;
    so.algorithm = f.algorithm;
    so.encryption = f.encryption;
    so.key = &key_;
    so.workers = 2;
    so.block_size = 64 << 10;  // several frames per big file
    auto store = backup::FileStore::create(dir_, so);
    ASSERT_TRUE(store.has_value()) << store.error().message();
    int seed = 0;
    for (const auto& [path, size] : stored_files()) {
      std::string data = content(size, ++seed);
      ASSERT_TRUE((*store)->begin_file("data/" + path, path, path == "backup_label").has_value());
      auto span =
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      ASSERT_TRUE((*store)->write(span).has_value());
      ASSERT_TRUE((*store)->end_file().has_value());
    }
    auto stored = (*store)->finish();
    ASSERT_TRUE(stored.has_value()) << stored.error().message();
    std::vector<backup::ManifestEntry> manifest;
    std::string sha;
    uint64_t restore = 0;
    for (const backup::StoredFile& s : *stored) {
      manifest.emplace_back(s.manifest_path, s.sha512);
      sha += backup::format_sha512_line({s.stored_path, s.stored_sha512});
      restore += s.size;
    }
    auto manifest_text = backup::format_manifest(manifest);
    ASSERT_TRUE(manifest_text.has_value());
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.manifest", *manifest_text, 0600));
    info_.label = "20240101120000";
    info_.valid = true;
    info_.compression = f.compression;
    info_.encryption = static_cast<uint8_t>(f.encryption);
    info_.restore_size = restore;
    std::string info_text = backup::format_backup_info(info_);
    auto hash = [](const std::string& text) {
      auto h = crypto::Sha512::create();
      h->update(text);
      return crypto::Sha512::hex(h->final());
    };
    sha += backup::format_sha512_line({"backup.manifest", hash(*manifest_text)});
    sha += backup::format_sha512_line({"backup.info", hash(info_text)});
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.sha512", sha, 0600));
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.info", info_text, 0600));
  }

  std::string stored(const std::string& path) const {
    return dir_ + "/data/" + path + format_.suffix;
  }

  pgm::test_support::TempDir tmp_dir_{"pgm-restore"};
  std::string tmp_ = tmp_dir_.path();
  std::string dir_;
  Format format_ = kZstd;
  crypto::MasterKey key_;
  backup::BackupInfo info_;
};

}  // namespace pgm::restore::test_support
