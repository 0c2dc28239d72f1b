// archive: one backup as a single tar file a user can carry away and extract with tar(1).
//
// write_archive() tars a data directory (the daemon's staged restore of the backup) into
// <directory>/archive-<server>-<label>.tar[.gz|.zstd|.lz4|.bz2][.aes]: compressed as one
// stream with the given algorithm and level, then optionally AES-GCM encrypted in the format
// of crypto/aes.h (the same as every .aes file, so `pgmoneta-cli decrypt` and `decompress`
// undo it). Paths in the tar are relative to the data directory ("PG_VERSION",
// "base/1/1259").
//
// Tablespaces: a symlink pg_tblspc/<oid> is followed and the tablespace's content is stored
// under pg_tblspc/<oid>/ as directories, so the archive is self-contained. PostgreSQL 15
// accepts directories there (in-place tablespaces); its recovery check for them
// (CheckTablespaceDirectory) only warns when allow_in_place_tablespaces is on, so the caller
// sets that for an archive with tablespaces (the daemon writes it with the recovery settings).
// Other symlinks are stored as symlinks.
//
// Streaming, bounded memory: files are read in 1 MiB chunks; nothing holds a whole file.
// Durability: written under a temporary name in <directory>, fsynced, linked to the final
// name (never replacing an existing file), directory fsynced. On any failure the temporary
// file is removed. Thread-compatible: one call at a time per target file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "pgm/backup/info.h"
#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

struct ArchiveOptions {
  std::string source_dir;  // the data directory to archive; read only
  std::string directory;   // where the archive file goes; must exist
  std::string server;
  std::string label;
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  int level = 3;  // clamped as compress::clamp_level()
  crypto::AesMode encryption = crypto::AesMode::kNone;
  const crypto::MasterKey* key = nullptr;  // required when encryption != kNone
  // done/total bytes of file content read; called from the calling thread.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct ArchiveResult {
  std::string path;        // <directory>/<archive_file_name(...)>
  uint64_t size = 0;       // bytes of the archive file
  uint64_t bytes = 0;      // file content bytes stored
  uint64_t tar_bytes = 0;  // bytes of the tar stream (before compression)
  size_t files = 0;        // regular files
  size_t directories = 0;  // directories, including followed tablespaces
  backup::Seconds elapsed{0};
};

// "archive-<server>-<label>.tar" + compression suffix + ".aes" when encrypted.
std::string archive_file_name(const std::string& server, const std::string& label,
                              compress::Algorithm algorithm, crypto::AesMode encryption);

// Errors: the archive file already exists -> kInvalidArgument (checked before anything is
// written, and again at the final link); missing key for encryption -> kInvalidArgument; a
// source file that changes size while read -> kIo; otherwise the errno error of the failed
// step, with the path. No partial file survives an error.
Result<ArchiveResult> write_archive(const ArchiveOptions& options);

}  // namespace pgm::restore
