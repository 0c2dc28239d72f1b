// Verifying a stored backup in place: every file listed in backup.manifest is read back to its
// plaintext (decrypt, decompress; StoredFileReader) and its SHA-512 compared with the manifest;
// files missing from data/, files data/ holds but the manifest lacks, and a backup.info or
// backup.manifest that no longer matches its backup.sha512 line are failures too. pgmoneta
// restores into a workspace first; reading the stored files directly checks the same bytes.
// The two files pgmoneta leaves out of backup.manifest (data/backup_manifest and the WAL
// segment under data/pg_wal, see backup_files.h) are checked against backup.sha512.
//
// An incremental backup whose own files pass is also rebuilt from its chain (scratch_dir), file
// by file, and each rebuilt file checked against PostgreSQL's backup_manifest or, for
// PostgreSQL's own incrementals, the backup's block map: a damaged ancestor shows here.
//
// Never answers "ok" on a mismatch (pgmoneta #1316): every failure is a VerifyFile in
// `failed`, each naming its file. verify_backup() blocks; it runs `workers` threads of its own
// and may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

inline constexpr const char* kProblemMismatch = "checksum mismatch";
inline constexpr const char* kProblemMissing = "missing";
inline constexpr const char* kProblemExtra = "extra file";

struct VerifyFile {
  // data-relative ("base/5/1259"); the backup's own files by name ("backup.info").
  std::string path;
  std::string expected;    // SHA-512 hex from backup.manifest (or backup.sha512); "" for extra
  std::string calculated;  // SHA-512 hex of what was read; "" when nothing could be read
  // "" when good; else kProblemMismatch, kProblemMissing, kProblemExtra (possibly with a
  // parenthesised detail: "extra file (dangling link)") or the read error's text (a damaged,
  // truncated or undecryptable file).
  std::string problem;
  uint64_t bytes = 0;  // plaintext bytes hashed
};

struct VerifyReport {
  std::vector<VerifyFile> failed;  // manifest order, then missing, extra, metadata
  std::vector<VerifyFile> all;     // every file (good ones too), only with keep_all
  uint64_t files = 0;              // data files read and hashed (metadata not counted)
  uint64_t bytes = 0;              // plaintext bytes hashed
  bool ok() const { return failed.empty(); }
};

struct VerifyOptions {
  std::string backup_dir;   // <root>/<label>
  backup::BackupInfo info;  // the backup's backup.info (format bytes, restore_size)
  // Borrowed; required when the backup is encrypted (kConfig otherwise).
  const crypto::MasterKey* key = nullptr;
  int workers = 1;  // threads reading files, largest files first (at least 1)
  bool keep_all = false;
  // An incremental backup is also rebuilt from its chain, one file at a time, here (a
  // directory that may not exist yet); "" skips that check.
  std::string scratch_dir;
  // Plaintext bytes hashed so far vs info.restore_size (the stored size when that is 0).
  // Called from the worker threads, one call at a time; must be quick.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

// Errors only for what prevents verifying at all: no backup.manifest or data/ (kNotFound), a
// malformed manifest or backup.info format bytes (kCorruption), an unreadable directory (kIo),
// an encrypted backup without a key (kConfig). Everything wrong with a file is in the report.
Result<VerifyReport> verify_backup(const VerifyOptions& options);

}  // namespace pgm::restore
