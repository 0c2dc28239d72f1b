// The files of one stored backup, as backup.manifest names them, matched against what is on
// disk under <backup>/data/ (following pg_tblspc/<oid> links into tblspc_<name>/ and
// pgmoneta's absolute links into older backups). Restore, verify and archive all start here:
// a file listed but absent is "missing", a file present but not listed is "extra".
//
// pgmoneta leaves two files out of backup.manifest: PostgreSQL's data/backup_manifest and the
// WAL segment it stores as data/pg_wal/<segment><suffix>. When backup.sha512 has a line for
// such a file it is a BackupFile marked `unlisted` (checked by its stored bytes), not "extra";
// any other unlisted file, or one of these two without a backup.sha512 line, stays "extra".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/restore/stored_file.h"

namespace pgm::restore {

struct BackupFile {
  std::string
      manifest_path;  // relative to data/, e.g. "base/5/1259" or "pg_tblspc/16390/PG_15_x/5/16391"
  std::string stored_path;  // the stored file, <backup>/data/<manifest_path><suffix>
  std::string sha512;       // from backup.manifest, lower-case hex
  // SHA-512 of the stored bytes from backup.sha512 ("" when it has no line for the file):
  // hashing the stored bytes proves the plaintext too (decoding is deterministic) at a
  // fraction of the cost for a compressed backup.
  std::string stored_sha512;
  uint64_t stored_size = 0;  // bytes on disk (0 when missing)
  bool plain = false;        // stored without compression or encryption (backup_label, ...)
  // Not in backup.manifest (pgmoneta's backup_manifest and pg_wal segment): `sha512` is empty
  // and `stored_sha512` is the only digest.
  bool unlisted = false;
};

struct TablespaceLink {
  std::string oid;   // pg_tblspc/<oid>
  std::string name;  // "tblspc_<spcname>" from backup.info ("" when backup.info does not name it)
};

struct BackupFiles {
  StoredFormat format;
  std::vector<BackupFile> files;     // present files, by manifest path, then unlisted ones
  std::vector<std::string> missing;  // manifest paths whose stored file is absent
  std::vector<std::string> extra;    // data/-relative names on disk that the manifest lacks
  std::vector<std::string>
      directories;  // data/-relative directories (empty ones too), parents first
  std::vector<TablespaceLink> tablespaces;
  uint64_t stored_bytes = 0;  // sum of stored_size
};

// Reads <backup_dir>/backup.manifest (and backup.sha512 when present) and walks <backup_dir>/data.
// Errors: kNotFound for a missing backup.manifest or data/, kCorruption for a malformed manifest or
// backup.info format bytes, kIo for unreadable directories. Missing and extra files are reported in
// the result, not as errors: the caller decides.
Result<BackupFiles> enumerate_backup(const std::string& backup_dir, const backup::BackupInfo& info);

}  // namespace pgm::restore
