// The restore engine: turns one stored backup into a PostgreSQL data directory.
//
//   1. enumerate the backup (backup.manifest against data/); a missing or extra file fails
//      the restore before anything is written;
//   2. check free space (restore size + WAL to copy) before writing;
//   3. create the target (0700) and its directories, map pg_tblspc/<oid> to tablespace
//      directories next to it;
//   4. decrypt + decompress every file in a worker pool, largest first, checking each
//      file's SHA-512 against backup.manifest as it is written;
//   5. copy the WAL a recovery needs from the repository's wal/ into pg_wal, decompressed and
//      decrypted (PostgreSQL reads only plain segments there);
//   6. let the caller write recovery settings (configure), then sync the file system, then
//      write global/pg_control last (temp name, fsync, rename, fsync dir).
//
// A data directory without global/pg_control does not start: until step 6 ends the restore
// is visibly incomplete. Any failure removes everything the restore created.
// Thread-compatible: one call at a time per target.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

struct RestoreOptions {
  std::string backup_dir;  // <base_dir>/<server>/backup/<label>
  backup::BackupInfo info;
  // Created by the restore; may exist only as an empty directory.
  std::string target_dir;
  const crypto::MasterKey* key = nullptr;  // needed for an encrypted backup or WAL
  int workers = 1;
  // Compare each file's SHA-512 with backup.manifest while writing it (the proof that the
  // restored bytes are the backed-up bytes).
  bool verify = true;
  // WAL: when copy_wal, segments of wal_dir from the backup's first segment on (any later
  // timeline too), history files, and the current .partial (as a full segment name, when it
  // holds the backup's end) are placed in pg_wal.
  bool copy_wal = false;
  std::string wal_dir;
  uint64_t wal_segment_size = 16u << 20;
  // Runs after every file is in place and before pg_control is written: recovery settings.
  std::function<Result<void>(const std::string& target_dir)> configure;
  // done/total bytes of plaintext written; called from worker threads.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
  // Where the tablespace with `oid` (directory `name`, "tblspc_<spcname>") is written; the
  // restore creates it (it must not exist) and links pg_tblspc/<oid> to it. Unset:
  // tablespace_directory(target_dir, name).
  std::function<std::string(const std::string& oid, const std::string& name)> tablespace_dir;
  // Asked once per data file (not global/pg_control) after the directories exist: may put
  // `destination` in place itself (a hard link to an identical copy) and return true, then the
  // file is neither written nor checked. `sha512` is the whole file's plaintext digest from
  // backup.manifest, "" for a file an incremental chain rebuilds. Called from one thread.
  std::function<bool(const std::string& manifest_path, const std::string& sha512,
                     const std::string& destination)>
      reuse;
};

struct RestoreResult {
  std::vector<std::string> tablespace_dirs;  // created next to target_dir
  uint64_t bytes = 0;                        // plaintext bytes written
  size_t files = 0;
  size_t wal_files = 0;     // segments and history files copied from wal/
  size_t reused_files = 0;  // put in place by RestoreOptions::reuse
  uint64_t reused_bytes = 0;
  backup::Seconds elapsed{0};
};

// Where tablespace `name` ("tblspc_<spcname>") of a restore into target_dir goes.
std::string tablespace_directory(const std::string& target_dir, const std::string& name);

// Errors name what failed: kUnavailable only for "not enough free space"; kInvalidArgument
// for a non-empty target; kCorruption for a damaged, missing or extra stored file or a
// checksum mismatch; kIo otherwise. Nothing the restore created survives an error.
Result<RestoreResult> run_restore(const RestoreOptions& options);

}  // namespace pgm::restore
