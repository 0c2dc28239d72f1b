// Block maps: a 128-bit hash (XXH3-128) of every 8 KB block of every relation file of a
// backup, as the backup's *logical* content (what a restore of it reconstructs), kept in
// "backup.blockmap" beside backup.info. A block-delta incremental (PostgreSQL 13-16) compares
// each block it receives with its parent's map and stores only those that differ, so no
// chain walk is needed; its own map is the hashes of what it received, which makes the next
// child's comparison exact too. 16 bytes per 8 KB block: a 1 TB cluster maps to 2 GB.
//
// File format (little-endian), written atomically:
//   "PGMBMAP1", uint32 block size (8192), uint32 reserved 0, uint64 file count,
//   per file, sorted by path: uint32 path length, path, uint64 size, uint32 block count,
//   block count x 16 bytes of hashes (low 64 bits, then high),
//   then uint64 XXH3-64 of every byte before it.
// Memory is flat: one array of hashes for all files, entries point into it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/incremental/format.h"

namespace pgm::incremental {

struct BlockHash {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const BlockHash&) const = default;
};

// XXH3-128 of one block (any length; 8192 bytes for relation files).
BlockHash hash_block(std::span<const uint8_t> block);
// The hash of an all-zero 8 KB block (what PostgreSQL zero-fills).
BlockHash zero_block_hash();

// Hashes a file's bytes block by block as they arrive in pieces of any size. A last partial
// block is hashed as it is (such files are never stored incrementally). One thread.
class BlockHasher {
 public:
  void update(std::span<const uint8_t> bytes);
  // The hashes, one per block; the hasher is empty again afterwards.
  std::vector<BlockHash> finish();

 private:
  std::vector<BlockHash> hashes_;
  std::vector<uint8_t> partial_;
};

// The logical map of a file stored as an INCREMENTAL file: the reconstructed file's hash per
// block, from the parent's logical map and the hashes of the blocks the file holds
// (`changed[i]` for header.blocks[i]), following pg_combinebackup: present blocks, then the
// parent's below the truncation length, then zeros.
std::vector<BlockHash> merge_logical(std::span<const BlockHash> parent, const Header& header,
                                     std::span<const BlockHash> changed);

class BlockMap {
 public:
  struct Entry {
    std::string path;    // relative to the data directory, as in backup_manifest
    uint64_t size = 0;   // bytes
    uint64_t first = 0;  // index of its first hash
    uint32_t count = 0;  // hashes
  };

  // Adds a file (paths unique; any order). Not thread-safe.
  void add(std::string path, uint64_t size, std::span<const BlockHash> hashes);
  // Sorts by path; find() needs it (parse() returns a sorted map). Duplicate paths ->
  // kInvalidArgument.
  Result<void> seal();

  // nullptr when absent.
  const Entry* find(std::string_view path) const;
  std::span<const BlockHash> hashes(const Entry& entry) const;
  const std::vector<Entry>& entries() const { return entries_; }
  size_t block_count() const { return hashes_.size(); }

  // The file's bytes (seal() first).
  std::string serialize() const;
  // kCorruption naming `name` for a bad magic, a truncated file, a checksum mismatch or
  // unsorted paths.
  static Result<BlockMap> parse(std::string_view bytes, const std::string& name);

  // Atomic, durable write of serialize() to `path`; read() + parse().
  Result<void> write(const std::string& path) const;
  static Result<BlockMap> read(const std::string& path);

 private:
  std::vector<Entry> entries_;
  std::vector<BlockHash> hashes_;
  bool sealed_ = true;
};

// Writes a block map's bytes as a stream, file by file in path order, for a backup's own map:
// nothing but a small buffer is held, whatever the file count. `sink` receives the bytes in
// order (a durable, hashed file, say). Not thread-safe.
class BlockMapWriter {
 public:
  using Sink = std::function<Result<void>(std::string_view bytes)>;
  // `files`: how many add() calls follow (the prelude states the count).
  BlockMapWriter(uint64_t files, Sink sink);
  ~BlockMapWriter();
  BlockMapWriter(const BlockMapWriter&) = delete;
  BlockMapWriter& operator=(const BlockMapWriter&) = delete;

  // Paths strictly increasing, else kInvalidArgument.
  Result<void> add(std::string_view path, uint64_t size, std::span<const BlockHash> hashes);
  // The checksum; kInvalidArgument when add() was not called `files` times.
  Result<void> finish();

 private:
  Result<void> flush();
  struct State;
  std::unique_ptr<State> state_;
};

inline constexpr const char* kBlockMapFile = "backup.blockmap";

}  // namespace pgm::incremental
