// Block-delta storage of one relation file in an incremental backup (PostgreSQL 13-16, or any
// version without WAL summaries): the server sends the whole file; each 8 KB block is hashed
// (XXH3-128) and compared with the parent backup's logical block map, and only the blocks
// that differ, or lie past the parent's end, are stored, in PostgreSQL's INCREMENTAL format
// (incremental/format.h) with truncation block length = the file's current length. A file
// with >= 90 % of its blocks changed is stored whole, as PostgreSQL does.
//
// Whether a file ends up whole or incremental is known only once enough blocks were seen:
// until then blocks wait in a spool (memory up to a cap, then an unlinked temporary file in
// the backup directory, so a crash leaves nothing behind). Unchanged blocks are never handed
// to the store, so they cost a hash, not a compression.
//
// Also computed on the way, over the whole file: the digests PostgreSQL's backup_manifest
// holds (SHA-512, or CRC32C), so an incremental backup is still checked against the server's
// manifest, and the file's block hashes for the new backup's own block map.
// One thread (the one reading BASE_BACKUP).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/backup/store.h"
#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"

namespace pgm::backup {

struct DeltaOutcome {
  std::string manifest_path;  // the relation file's own path ("base/5/16384")
  uint64_t size = 0;          // the whole file's bytes
  bool incremental = false;   // stored as INCREMENTAL.<name>
  uint32_t changed_blocks = 0;
  crypto::Sha512Digest sha512{};                     // of the whole file
  std::optional<uint32_t> crc32c;                    // final CRC-32C of it, with `crc32c`
  std::vector<incremental::BlockHash> block_hashes;  // of the whole file
};

class DeltaFile {
 public:
  // `stored_base` / `manifest_path` as FileStore::begin_file takes them for the whole file;
  // `size` from the tar header; `parent` the parent's logical hashes of this file.
  // `spool_dir` is where a large spool spills (the backup directory).
  static Result<std::unique_ptr<DeltaFile>> create(FileStore& store, std::string stored_base,
                                                   std::string manifest_path, uint64_t size,
                                                   std::span<const incremental::BlockHash> parent,
                                                   std::string spool_dir, bool crc32c);
  ~DeltaFile();
  DeltaFile(const DeltaFile&) = delete;
  DeltaFile& operator=(const DeltaFile&) = delete;

  Result<void> write(std::span<const uint8_t> bytes);
  // Stores what remains; the file must have had exactly `size` bytes.
  Result<DeltaOutcome> finish();

  // Bytes the spool may hold in memory before it spills (tests lower it).
  static size_t memory_cap;

 private:
  DeltaFile(FileStore& store, std::string stored_base, std::string manifest_path, uint64_t size,
            std::span<const incremental::BlockHash> parent, std::string spool_dir, bool crc32c,
            crypto::Sha512 sha);
  Result<void> block(std::span<const uint8_t> data);  // one whole block
  Result<void> decide();
  Result<void> spool(std::span<const uint8_t> data);
  Result<void> go_whole();  // begins the whole file and flushes the spool into it
  // Reads the spool back in order: (index in spool, bytes).
  Result<void> replay(const std::function<Result<void>(size_t, std::span<const uint8_t>)>& each);

  enum class Mode { kUndecided, kWhole, kIncremental };

  FileStore& store_;
  std::string stored_base_;
  std::string spool_dir_;
  std::span<const incremental::BlockHash> parent_;
  uint32_t blocks_ = 0;  // the file's blocks (size / 8192)
  Mode mode_ = Mode::kUndecided;
  DeltaOutcome out_;
  crypto::Sha512 sha_;
  bool crc_on_ = false;
  uint32_t crc_ = 0;
  uint64_t seen_ = 0;
  uint32_t unchanged_ = 0;
  std::vector<uint8_t> partial_;  // a block cut by write() boundaries

  // The spool: blocks in arrival order, with their numbers and whether they changed.
  struct Spooled {
    uint32_t block;
    bool changed;
  };
  std::vector<Spooled> spooled_;
  std::vector<uint8_t> memory_;
  UniqueFd spill_;
  uint64_t spilled_ = 0;
};

}  // namespace pgm::backup
