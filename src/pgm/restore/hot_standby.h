// Hot standby: a ready-to-start copy of a server's latest backup kept in each `hot_standby`
// directory, as <directory>/<server> (pgmoneta's place for it), rebuilt after every backup.
//
// An update never leaves the copy half-written: it is restored beside the copy
// (<directory>/<server>.pgmoneta-new, same file system) by the restore engine, so an
// incremental backup is combined with its chain; the override files go over it; everything is
// synced; then the new copy is swapped in with one rename (RENAME_EXCHANGE where the file
// system has it) and the old one removed. Tablespaces go to their mapped directories the same
// way (<to>.pgmoneta-new swapped with <to>), just before the data directory. A crash leaves
// only names ending in .pgmoneta-new / .pgmoneta-old, which the next update (and the daemon's
// start-up) clears.
//
// Only changed files are written: each copy records, in <copy>/.pgmoneta-hot-standby, the
// SHA-512, size, inode and modification time of every file it got from the backup. A file of
// the new backup whose SHA-512 equals the recorded one, and whose copy still has the recorded
// size, inode and time (PostgreSQL did not change it), is hard-linked from the old copy.
//
// Like pgmoneta, no recovery settings are written: the copy starts as the backup does, with
// crash recovery from its backup_label up to the WAL the backup holds. Recovery or standby
// settings (standby.signal, primary_conninfo) go in through the override directory.
// Thread-compatible: one update per directory at a time (the repository lock).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

// One hot_standby_tablespaces pair: `from` is a tablespace's OID, name (spcname, or
// "tblspc_<spcname>") or path on the server; `to` where the copy's tablespace goes.
struct StandbyTablespace {
  std::string from;
  std::string to;
};

struct HotStandbyOptions {
  std::string backup_dir;  // <base_dir>/<server>/backup/<label>
  backup::BackupInfo info;
  const crypto::MasterKey* key = nullptr;
  int workers = 1;
  std::string server;     // the copy is <directory>/<server>
  std::string directory;  // one hot_standby entry
  int index = 0;          // its position in hot_standby (0-based), for default tablespace names
  std::string overrides;  // "" = none
  std::vector<StandbyTablespace> tablespaces;
};

struct HotStandbyResult {
  std::string copy;  // <directory>/<server>
  size_t written_files = 0;
  uint64_t written_bytes = 0;
  size_t reused_files = 0;  // hard-linked from the previous copy
  uint64_t reused_bytes = 0;
  size_t override_files = 0;
  std::vector<std::string> tablespace_dirs;  // where the copy's tablespaces are
  backup::Seconds elapsed{0};
};

// Where the tablespace (`oid`, `name` = "tblspc_<spcname>", server path `path`) of the
// standby at `index` goes: the `to` of the first pair whose `from` names it, else `path` +
// "hs" (pgmoneta's rule) for the first standby and `path` + "hs<index+1>" for the others, so
// two copies never share a tablespace.
std::string standby_tablespace_dir(const std::vector<StandbyTablespace>& pairs, int index,
                                   const std::string& oid, const std::string& name,
                                   const std::string& path);

// Makes <directory>/<server> a copy of the backup. kInvalidArgument when a running PostgreSQL
// uses the copy (its postmaster.pid names a live process) or a tablespace would go to its
// own server location; otherwise the restore's errors. On error the previous copy is intact.
Result<HotStandbyResult> update_hot_standby(const HotStandbyOptions& options);

// Puts directory `staged` in place of `target` (absent or a directory) in one step, removes
// the old content and syncs the parent. After a crash `target` is the old or the new whole
// directory; leftovers carry kNewSuffix / kOldSuffix.
Result<void> replace_directory(const std::string& staged, const std::string& target);

inline constexpr const char* kNewSuffix = ".pgmoneta-new";
inline constexpr const char* kOldSuffix = ".pgmoneta-old";
inline constexpr const char* kRecordFile = ".pgmoneta-hot-standby";

// Clears what an interrupted update left beside `target`: <target>.pgmoneta-new is removed;
// <target>.pgmoneta-old is put back when `target` is missing, else removed. True when
// anything was cleared.
bool clear_replace_leftovers(const std::string& target);

}  // namespace pgm::restore
