// StoredFileList: what a FileStore wrote, one compact row per file, for clusters of a million
// files. Digests are binary, the manifest path lives in a PathArena and the stored path is
// derived from it (a shared prefix such as "data/" or "tblspc_<name>/", the manifest path's
// tail, the store's suffix), block hashes sit in shared chunks, and rows are kept in chunks
// that never move (no doubling of one large array). The digests of the stored bytes, needed only
// for backup.sha512 at the very end, wait in an unlinked temporary file (a spool) when the list
// is given a directory. About 125 bytes a file, plus its path and 16 bytes per 8 KB block
// hashed. Not thread-safe while being filled; const member functions are once sealed.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/manifest_index.h"
#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"

namespace pgm::backup {

// One stored file, materialised with hex digests (tests and small callers; the list itself
// keeps none of these strings).
struct StoredFile {
  std::string manifest_path;  // the name PostgreSQL's backup_manifest uses
  std::string stored_path;    // relative to the backup directory, suffixes included
  uint64_t size = 0;          // plaintext bytes
  uint64_t stored_size = 0;   // bytes written
  std::string sha512;         // lower-case hex of the plaintext
  std::string stored_sha512;  // lower-case hex of the bytes on disk (backup.sha512)
  std::string crc32c;         // crc32c_manifest_hex of the plaintext, with StoreOptions::crc32c
  // With StoreOptions::block_hashes, for incremental candidates: one hash per 8 KB block.
  std::vector<incremental::BlockHash> block_hashes;
  bool has_block_hashes = false;  // a candidate (an empty relation file has no hashes)
  bool linked = false;            // a hardlink to StoreOptions::identical's file, nothing written
};

// A file to add: the views are copied.
struct NewStoredFile {
  std::string_view manifest_path;
  std::string_view stored_base;  // stored path without the store's suffix
  bool plain = false;            // stored without the suffix (backup_label, backup_manifest)
  uint64_t size = 0;
  uint64_t stored_size = 0;
  crypto::Sha512Digest sha512{};
  crypto::Sha512Digest stored_sha512{};
  std::optional<uint32_t> crc32c;  // final CRC-32C of the plaintext, when computed
  std::span<const incremental::BlockHash> block_hashes;
  bool has_block_hashes = false;
  bool linked = false;
};

class StoredFileList {
 public:
  // `suffix`: what the store appends to stored paths of files that are not plain.
  // `spool_dir`: where the spool of stored digests goes (a file without a name, gone with the
  // process); "" keeps them in memory.
  explicit StoredFileList(std::string suffix = {}, std::string spool_dir = {});

  // Errors only from the spool (kIo naming the directory).
  Result<void> add(const NewStoredFile& file);
  // Orders the files by manifest path; the accessors below index that order.
  Result<void> seal();

  size_t size() const { return order_.size(); }
  std::string_view manifest_path(size_t i) const;
  std::string stored_path(size_t i) const;
  uint64_t file_size(size_t i) const { return row(i).size; }
  uint64_t stored_size(size_t i) const { return row(i).stored_size; }
  const crypto::Sha512Digest& sha512(size_t i) const { return row(i).sha512; }
  // Read back from the spool: kIo when that fails.
  Result<crypto::Sha512Digest> stored_sha512(size_t i) const;
  std::optional<uint32_t> crc32c(size_t i) const;
  bool linked(size_t i) const { return (row(i).flags & kLinked) != 0; }
  bool has_block_hashes(size_t i) const { return (row(i).flags & kHasBlockHashes) != 0; }
  std::span<const incremental::BlockHash> block_hashes(size_t i) const;
  // The i-th file with hex digests (a spool that cannot be read is a bug here).
  StoredFile operator[](size_t i) const;
  StoredFile front() const { return (*this)[0]; }

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = StoredFile;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = StoredFile;
    Iterator(const StoredFileList* list, size_t i) : list_(list), i_(i) {}
    StoredFile operator*() const { return (*list_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++i_;
      return before;
    }
    bool operator==(const Iterator& other) const { return i_ == other.i_; }

   private:
    const StoredFileList* list_;
    size_t i_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }

 private:
  static constexpr uint8_t kLinked = 1;
  static constexpr uint8_t kHasBlockHashes = 2;
  static constexpr uint8_t kHasCrc32c = 4;
  static constexpr uint8_t kPlain = 8;
  struct Row {
    crypto::Sha512Digest sha512;
    uint64_t size;
    uint64_t stored_size;
    const char* path;  // the manifest path, in arena_
    uint32_t path_length;
    uint32_t prefix;      // stored path = prefixes_[prefix] + path[skip..] (+ suffix_)
    uint32_t hash_chunk;  // block hashes: hash_chunks_[hash_chunk][hash_first..+hash_count]
    uint32_t hash_first;
    uint32_t hash_count;
    uint32_t crc32c;
    uint32_t skip;
    uint8_t flags;
  };
  static constexpr size_t kRowsPerChunk = 4096;
  static constexpr size_t kHashesPerChunk = size_t{1} << 16;

  const Row& row(size_t i) const {
    const uint32_t r = order_[i];
    return rows_[r / kRowsPerChunk][r % kRowsPerChunk];
  }
  uint32_t intern_prefix(std::string_view prefix);
  Result<void> flush_spool();

  std::string suffix_;
  PathArena arena_;
  std::vector<std::string> prefixes_;
  std::vector<std::unique_ptr<Row[]>> rows_;
  size_t count_ = 0;
  std::vector<std::vector<incremental::BlockHash>> hash_chunks_;
  std::vector<uint32_t> order_;  // rows by manifest path, after seal()
  // Stored digests by row: record r of the spool, or unspooled_[r - spooled_].
  std::string spool_dir_;
  UniqueFd spool_;
  uint64_t spooled_ = 0;
  std::vector<crypto::Sha512Digest> unspooled_;
};

}  // namespace pgm::backup
