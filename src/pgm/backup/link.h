// Delta storage: files unchanged since the previous backup are shared with it instead of
// stored twice (reference §6.4). We share by HARDLINK, so deleting either backup or moving
// base_dir breaks nothing; only when the filesystem refuses a hardlink (EXDEV, EPERM, EMLINK)
// do we fall back to a RELATIVE symlink, which survives moving base_dir as a whole
// (delete_backup() in repository.h moves symlink targets forward). Thread-safe functions;
// the caller holds the repository lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/backup/manifest_index.h"
#include "pgm/backup/store.h"
#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"

namespace pgm::backup {

struct LinkResult {
  size_t files_linked = 0;   // hardlinks and symlinks made
  uint64_t bytes_saved = 0;  // st_size of the new backup's stored files that were replaced
  size_t symlinks = 0;       // how many of files_linked are symlinks
  // Every file linked, as backup.sha512 names it ("data/<stored name>"), sorted.
  std::vector<std::string> linked;
};

// The suffix of a stored data file: the compression suffix (".gz", ".zstd", ".lz4", ".bz2")
// then ".aes" when encrypted. `compression` is backup.info's type byte (0x1n client / 0x2n
// server, n = algorithm 1..4; legacy 1..7 accepted). backup_label and backup_manifest at the
// top of data/ are always stored plain: stored_name() handles that.
std::string stored_suffix(uint8_t compression, uint8_t encryption);
// The algorithm of backup.info's COMPRESSION byte; nullopt for an unknown byte.
std::optional<compress::Algorithm> compression_algorithm(uint8_t compression);
// data-relative manifest path -> path under data/ as stored ("base/1/1259.zstd.aes").
std::string stored_name(std::string_view manifest_path, uint8_t compression, uint8_t encryption);

// Shares new_dir's unchanged files with previous_dir. Reads both backup.manifest and
// backup.info; when COMPRESSION or ENCRYPTION differ nothing is linked (the stored bytes
// differ). For every path with the same SHA-512 in both manifests, new_dir/data/<stored> is
// replaced by a hardlink to previous_dir's stored file (made under a temporary name in the
// same directory, then renamed over, so a crash leaves either file whole); when link() fails
// with EXDEV, EPERM or EMLINK a relative symlink is used instead. A previous file that is
// itself a symlink is followed to its real file. Files missing on either side, already the
// same inode, or not regular files are skipped. File contents do not change, so
// backup.sha512 stays valid. Touched directories are fsynced. Errors name the file.
Result<LinkResult> link_unchanged(const std::string& previous_dir, const std::string& new_dir);

// The stored files of an earlier backup that a new backup may hardlink while it streams
// (FileStore's StoreOptions::identical), built from that backup's backup.info, backup.manifest
// and backup.sha512. It answers only when the compression and encryption are those of the new
// backup, the manifest path has the same SHA-512, and the earlier stored file is its own
// regular file with a backup.sha512 line; everything else is left to link_unchanged().
// Immutable once loaded: find() is thread-safe.
class IdenticalFiles {
 public:
  // An index that never answers when `previous_dir` cannot be read or its COMPRESSION or
  // ENCRYPTION differ: linking only saves space.
  static IdenticalFiles load(const std::string& previous_dir, uint8_t compression,
                             uint8_t encryption);
  std::optional<IdenticalFile> find(std::string_view manifest_path,
                                    const crypto::Sha512Digest& sha512) const;
  size_t size() const { return count_; }

 private:
  std::string dir_;
  uint8_t compression_ = 0;
  uint8_t encryption_ = 0;
  // backup.manifest (~90 bytes a file) and, by its rows, where backup.sha512 has the line of
  // its stored file (8 more; find() reads the digest there); a row without one never answers.
  static constexpr uint64_t kNoLine = UINT64_MAX;
  ManifestIndex manifest_;
  UniqueFd sums_;
  std::vector<uint64_t> line_at_;
  size_t count_ = 0;  // rows with both
};

// Bytes this backup alone holds on disk: st_size of every regular file under backup_dir with
// st_nlink == 1. Files shared by hardlink (nlink > 1) and symlinks count 0, so the figure is
// what deleting only this backup would free (before symlinked files are handed over).
// Unreadable entries are skipped.
uint64_t stored_bytes(const std::string& backup_dir);

// Apparent bytes of the backup: st_size of every regular file, shared or not, plus the real
// files its symlinks reach (each counted once). What restoring reads from the repository.
uint64_t apparent_bytes(const std::string& backup_dir);

// Building blocks shared with delete_backup(); not for other callers.
namespace internal {
// realpath(3); "" when it fails (errno set).
std::string real_path(const std::string& path);
// `path` with its directory part resolved by realpath (the last component kept as is, so a
// symlink is not followed); the lexically normal path when the directory does not resolve.
std::string canonical_location(const std::string& path);
// Replaces `path` atomically (temp name, rename) by a symlink to `target`, relative to the
// real directory of `path`.
Result<void> replace_with_relative_symlink(const std::string& target, const std::string& path);
// Replaces `path` atomically by a hardlink to `target`. false (nothing changed) when link()
// fails with EXDEV, EPERM or EMLINK.
Result<bool> replace_with_hardlink(const std::string& target, const std::string& path);
}  // namespace internal

}  // namespace pgm::backup
