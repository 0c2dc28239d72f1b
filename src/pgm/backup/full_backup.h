// One full backup of one server into a new backup directory, end to end:
//   1. SQL connection: version, tablespaces, WAL segment size, a size estimate for progress;
//   2. BASE_BACKUP on a replication connection; each archive (server-decompressed when the
//      server compresses) is parsed as it arrives and its files go through a FileStore
//      (hash, compress, encrypt, write) into data/ and tblspc_<name>/;
//   3. PostgreSQL's backup_manifest is checked against our SHA-512s (any mismatch fails);
//   4. backup.manifest, then link with the previous backup (unchanged files shared), then
//      syncfs + directory fsync, then backup.sha512, then backup.info with STATUS=1 last,
//      each atomically. Only then is the backup valid.
// On failure the directory is removed (renamed to .delete-<label> first, so a crash during
// removal never leaves something that looks like a backup); a crash before the end leaves a
// directory without backup.info, or with STATUS=0, which lists as invalid and is removed by
// the next backup or retention pass.
// Blocking; runs in the daemon's forked backup child.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "pgm/backup/info.h"
#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/incremental/block_map.h"
#include "pgm/pg/connection.h"

namespace pgm::backup {

struct BackupProgress {
  enum class Phase { kStarting, kStreaming, kFinishing };
  Phase phase = Phase::kStarting;
  uint64_t done = 0;   // plaintext bytes stored so far
  uint64_t total = 0;  // estimate (tablespace sizes); 0 when unknown
};

struct FullBackupOptions {
  std::string backup_dir;        // <base_dir>/<server>/backup/<label>; must not exist
  std::string label;             // 14-digit label
  std::string previous_dir;      // newest valid backup to link against; "" for none
  pg::ConnectParams connection;  // SQL parameters; BASE_BACKUP uses a replication copy
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  bool server_side = false;      // PostgreSQL compresses the stream too (server-*)
  uint8_t compression_type = 0;  // backup.info COMPRESSION byte
  int level = 3;
  crypto::AesMode encryption = crypto::AesMode::kNone;
  const crypto::MasterKey* key = nullptr;  // borrowed
  int workers = 1;
  uint64_t max_rate = 0;  // bytes/s; 0 unlimited
  // PostgreSQL checksums its manifest with CRC32C instead of SHA-512 (manifest_checksums):
  // the server then spends a fraction of the CPU, and we check its CRCs with our own.
  bool crc32c_manifest = false;
  std::string version;  // PGMONETA_VERSION
  // An incremental backup (block delta): the parent's backup.info and logical block map
  // (both borrowed, both required together). Relation files the parent has are stored as
  // their changed blocks (backup/delta_file.h); backup_label gets INCREMENTAL FROM lines.
  const BackupInfo* parent = nullptr;
  const incremental::BlockMap* parent_map = nullptr;
  std::string parent_dir;  // its directory (native incrementals upload its backup_manifest)
  // PostgreSQL 17+ with summarize_wal: let the server send only changed blocks (UPLOAD_MANIFEST
  // + BASE_BACKUP INCREMENTAL). When it refuses (WAL summaries missing for the parent's
  // range), the backup is taken again as a block delta.
  bool allow_native = true;
  // Called from the backup thread about four times a second, and at phase changes.
  std::function<void(const BackupProgress&)> on_progress;
};

struct FullBackupResult {
  BackupInfo info;
  bool native_incremental = false;  // the server sent the INCREMENTAL files
  uint64_t incremental_files = 0;   // stored as INCREMENTAL.<name>
  uint64_t changed_blocks = 0;      // blocks those files hold
  uint64_t linked_files = 0;
  uint64_t linked_bytes = 0;
  Seconds sync_elapsed{0};  // the final syncfs
};

Result<FullBackupResult> run_full_backup(const FullBackupOptions& options);

}  // namespace pgm::backup
