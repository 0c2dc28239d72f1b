// The catalog files a full backup writes beside its data, in pieces and never whole in memory:
// backup.manifest through HashedFile, and the lines of the previous backup's backup.sha512 a
// linked file keeps. Not thread-safe per object; the functions are.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/delta_file.h"
#include "pgm/backup/store.h"
#include "pgm/core/result.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::backup {

// A catalog file written atomically in pieces (never whole in memory), its SHA-512 computed
// on the way for backup.sha512. Nothing is visible until commit().
class HashedFile {
 public:
  static Result<HashedFile> create(const std::string& path) {
    PGM_ASSIGN_OR_RETURN(io::AtomicFile file, io::AtomicFile::create(path, 0600));
    PGM_ASSIGN_OR_RETURN(crypto::Sha512 sha, crypto::Sha512::create());
    return HashedFile(std::move(file), std::move(sha));
  }

  Result<void> append(std::string_view text) {
    buffer_ += text;
    return buffer_.size() >= kFlushBytes ? flush() : Result<void>{};
  }

  // Durable and in place; returns the hex SHA-512 of everything appended.
  Result<std::string> commit() {
    PGM_TRY(flush());
    PGM_TRY(file_.commit());
    return crypto::Sha512::hex(sha_.final());
  }

 private:
  static constexpr size_t kFlushBytes = size_t{64} << 10;
  HashedFile(io::AtomicFile file, crypto::Sha512 sha)
      : file_(std::move(file)), sha_(std::move(sha)) {}

  Result<void> flush() {
    sha_.update(buffer_);
    PGM_TRY(file_.write(buffer_));
    buffer_.clear();
    return {};
  }

  io::AtomicFile file_;
  crypto::Sha512 sha_;
  std::string buffer_;
};

// backup.manifest: "<manifest path>,<sha512>" per file, in the order of `files` (sorted by
// manifest path). Returns its SHA-512 hex. Paths are checked as format_manifest() checks them.
Result<std::string> write_backup_manifest(const std::string& path, const StoredFileList& files);

// backup.blockmap (incremental/block_map.h) as a stream: the block hashes of `files` that have
// them, and the whole files the incremental `outcomes` stand for, merged in path order. Returns
// its SHA-512 hex; kInvalidArgument for a path on both sides.
Result<std::string> write_block_map(const std::string& path, const StoredFileList& files,
                                    std::span<const DeltaOutcome> outcomes);

// The previous backup's backup.sha512 lines of `paths` (sorted), read as a stream; empty when
// it cannot be read whole (the new backup's own hashes are then kept, as they always may be).
std::map<std::string, std::string> previous_stored_hashes(const std::string& previous_dir,
                                                          const std::vector<std::string>& paths);

}  // namespace pgm::backup
