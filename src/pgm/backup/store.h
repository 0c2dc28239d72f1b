// FileStore: writes the files of a backup as they stream in, without a temporary tar.
//
// The caller (one thread: the one reading BASE_BACKUP) announces each file with begin_file(),
// hands its bytes in order with write() and closes it with end_file(). The bytes are cut into
// blocks; a pool of `workers` threads compresses blocks in parallel (each block an independent
// zstd frame, LZ4 frame or gzip member, so a 1 GB relation segment is spread over every
// worker; bzip2 files are one stream, compressed in order) and then, strictly in block order
// per file, hashes the plaintext (SHA-512), encrypts (AES-GCM, the vault's file format) and
// appends to the stored file. Concatenated frames are standard: zstd, lz4, gunzip and our own
// decompressors read them as one stream.
//
// Memory is bounded by max_blocks_in_flight blocks whatever the file or database size:
// write() blocks while that many are queued or being processed.
//
// Durability is the caller's: files are written but not fsynced (a backup syncs its whole
// directory once before it writes backup.info; see docs/backup.md). Errors: the first failure
// of any worker (disk full, codec error) is returned by the next begin_file/write/end_file or
// by finish(); after it the store accepts nothing more. Files already written stay on disk.
//
// Thread-safety: begin_file/write/end_file/finish from one thread; bytes_in() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/stored_files.h"
#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"

namespace pgm::backup {

// A stored file of an earlier backup, as StoreOptions::identical finds it.
struct IdenticalFile {
  std::string path;                      // absolute, a regular file (not a symlink)
  uint64_t stored_size = 0;              // its size on disk
  crypto::Sha512Digest stored_sha512{};  // of its bytes on disk, from that backup's backup.sha512
};

struct StoreOptions {
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  int level = 3;
  crypto::AesMode encryption = crypto::AesMode::kNone;
  const crypto::MasterKey* key = nullptr;  // borrowed; required when encrypting
  int workers = 1;                         // threads (at least 1)
  size_t block_size = size_t{1} << 20;     // plaintext bytes per block
  size_t max_blocks_in_flight = 0;         // 0: 4 per worker + 4
  bool crc32c = false;  // also compute StoredFile::crc32c (PostgreSQL's CRC32C manifests)
  // Also hash every 8 KB block of each incremental candidate (relation segments, see
  // incremental/format.h) into StoredFile::block_hashes, as the bytes arrive.
  bool block_hashes = false;
  // The stored file of an earlier backup that holds exactly what a new file would store: the
  // same plaintext (manifest path and SHA-512) under the same compression and encryption. For
  // a file of at most one block, end_file() hardlinks it instead of compressing and writing a
  // copy (a second full backup of a cluster of many small files writes little but links).
  // Called on the producer's thread; nullptr or nullopt: the file is stored as usual.
  std::function<std::optional<IdenticalFile>(std::string_view manifest_path,
                                             const crypto::Sha512Digest& sha512)>
      identical;
};

// Thread time spent per step, summed over workers (what backup.info's *_ELAPSED report).
struct StoreTimings {
  std::chrono::duration<double> hash{0};
  std::chrono::duration<double> compression{0};
  std::chrono::duration<double> encryption{0};
  std::chrono::duration<double> write{0};
};

class FileStore {
 public:
  // `backup_dir` must exist. Fails for encryption without a key or bad options.
  static Result<std::unique_ptr<FileStore>> create(std::string backup_dir, StoreOptions options);
  ~FileStore();  // stops the workers; unfinished files stay on disk
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  // Starts a file stored at `stored_base` (relative to the backup directory, without suffix;
  // parents are created) and recorded in the result under `manifest_path`. `plain` files
  // (backup_label, backup_manifest) are stored without compression or encryption.
  Result<void> begin_file(const std::string& stored_base, std::string manifest_path, bool plain);
  Result<void> write(std::span<const uint8_t> data);
  Result<void> end_file();

  // Waits until every file is written and closed; returns them sorted by manifest path
  // (sealed). May be called once.
  Result<StoredFileList> finish();

  // Plaintext bytes accepted so far (progress).
  uint64_t bytes_in() const { return bytes_in_.load(std::memory_order_relaxed); }
  // Valid after finish().
  const StoreTimings& timings() const { return timings_; }

  struct Impl;

 private:
  explicit FileStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> bytes_in_{0};
  StoreTimings timings_;
};

}  // namespace pgm::backup
