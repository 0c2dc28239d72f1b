// The repository catalog of one server: <base_dir>/<server>/backup/<label>/ directories, their
// backup.info records, identifier resolution, retain/annotate edits, safe deletion of backups
// that share files with others. Plain filesystem code;
// functions are thread-safe, but callers serialise mutations of one repository (the daemon's
// per-server repository lock): nothing here locks. Functions taking an io::FileSystem do their
// catalog I/O through it (tests inject faults).
//
// Layout (reference §6.1): <root>/<label>/{backup.info, backup.manifest, backup.sha512, data/..}
// where root = backup_root(base_dir, server). A label directory whose backup.info is missing or
// says STATUS=0 is an incomplete or failed backup. Names that are not labels are ignored,
// including ".delete-<label>" directories a crashed delete_backup() left (cleanup_deleted()).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/io/file_system.h"

namespace pgm::backup {

// base_dir/server/backup
std::string backup_root(const std::string& base_dir, const std::string& server);

struct BackupEntry {
  std::string label;
  std::string dir;                 // root/label
  std::optional<BackupInfo> info;  // absent when backup.info is missing or unreadable
  std::string problem;  // why info is absent: "backup.info: missing", "backup.info: line 3: .."
  bool info_missing = false;  // no backup.info at all (a backup still being written, or killed)
  bool valid() const { return info.has_value() && info->valid; }
};

// Every label-named directory of root, ascending by label. A missing root is an empty list. A
// missing, unreadable or corrupt backup.info gives an entry with `problem` set, never an error
// for the whole list; kIo only when root itself cannot be read.
Result<std::vector<BackupEntry>> list_backups(const std::string& root,
                                              io::FileSystem& fs = io::posix_file_system());

enum class SortOrder { kAscending, kDescending };
// list-backup's --sort: "asc" / "desc"; nullopt otherwise.
std::optional<SortOrder> parse_sort_order(std::string_view text);
void sort_backups(std::vector<BackupEntry>& entries, SortOrder order);

// Resolves a backup identifier: "oldest", "newest" or "latest" (= newest) pick among VALID
// backups only; a 14-digit label picks that backup in any state. The pointer borrows from
// `entries`. `server` only names the repository in messages. Errors:
// kInvalidArgument for any other text; kNotFound "no backup <label> for server <s>" or, for a
// keyword, "no valid backup for server <s>" (with how many invalid ones exist).
Result<const BackupEntry*> resolve_backup(const std::vector<BackupEntry>& entries,
                                          std::string_view id, std::string_view server = {});

// backup_dir/backup.info, parsed. kNotFound when absent; kCorruption names the line.
Result<BackupInfo> read_backup_info(const std::string& backup_dir,
                                    io::FileSystem& fs = io::posix_file_system());

// Writes backup_dir/backup.info atomically (temp, fsync, rename, fsync dir), then, when
// backup.sha512 exists, replaces (or appends) its "./backup.info" line, also atomically, so
// `sha512sum -c backup.sha512` keeps passing. A corrupt backup.sha512 fails (kCorruption)
// before backup.info is touched.
Result<void> write_backup_info(const std::string& backup_dir, const BackupInfo& info,
                               io::FileSystem& fs = io::posix_file_system());

// retain / expunge of one backup (no cascade). kNotFound when root/label has no readable
// backup.info. Returns the updated record.
Result<BackupInfo> set_keep(const std::string& root, const std::string& label, bool keep);

enum class AnnotateAction { kAdd, kUpdate, kRemove };
// "add", "update", "remove"; nullopt otherwise.
std::optional<AnnotateAction> parse_annotate_action(std::string_view text);

// annotate: add fails (kInvalidArgument "comment key 'k' already exists on backup L") when the
// key exists; update/remove fail (kNotFound "no comment key 'k' on backup L") when it does not.
// `comment` is ignored for remove. Key/value syntax errors are kInvalidArgument (info.h).
Result<BackupInfo> annotate(const std::string& root, const std::string& label,
                            AnnotateAction action, std::string_view key, std::string_view comment);

struct DeleteResult {
  uint64_t bytes_freed = 0;    // st_size of regular files whose last link went away
  size_t files_moved = 0;      // real files handed over to a backup that symlinked them
  size_t links_repointed = 0;  // symlinks of other backups rewritten (relative)
};

// Deletes root/label so that no other backup breaks.
// 1. kNotFound when root/label does not exist; kUnavailable "backup L is retained; use
//    --force" when KEEP=1 and !force; kUnavailable when a backup names L as PARENT (the caller
//    rolls the incremental chain up first).
// 2. Every symlink of another backup (pgmoneta's absolute ones and our relative ones) whose
//    chain passes through root/label is fixed: when the real file lies inside root/label it is
//    handed to the oldest backup linking to it (hardlinked over that symlink, rename as the
//    fallback), and every other such symlink is re-pointed, relatively, to its new place; each
//    step leaves every link readable, so a crash at any point breaks nothing.
// 3. root/label is renamed to root/.delete-<label> (root fsynced): from then on it is not a
//    backup; then it is removed recursively.
Result<DeleteResult> delete_backup(const std::string& root, const std::string& label, bool force);

// Removes one backup directory with no regard for others (a failed backup, a crash leftover;
// delete_backup() calls it last): renamed to "<root>/.delete-<name>" (an older leftover of
// that name removed first), the root fsynced, then removed recursively. Absent: nothing to do.
Result<void> remove_backup_directory(const std::string& dir);

// Removes a directory tree (or a file) without following its symbolic links; absent: nothing
// to do. kIo naming `path`.
Result<void> remove_tree(const std::string& path);

// Removes ".delete-*" leftovers of crashed deletes. Returns how many were removed.
Result<size_t> cleanup_deleted(const std::string& root);

// ---------------------------------------------------------------------------------------------
// JSON (raw: codes and byte counts untranslated; management/output.cc translates them).

// WAL figures of list-backup (pgmoneta's meaning, computed by the caller from wal/):
// wal = bytes of WAL from this backup's first segment on; delta = bytes of WAL between the
// previous (older) backup's first segment and this one's (0 for the oldest).
struct WalFigures {
  uint64_t wal = 0;
  uint64_t delta = 0;
};

// Bytes of the complete segments among `wal_files` (names in wal/, any compression/.aes
// suffix; .partial and .history ignored) whose segment number (timeline ignored) is >= from's
// and, when `to` is non-empty, < to's, times segment_size. Malformed from -> 0.
uint64_t wal_bytes_between(std::span<const std::string> wal_files, std::string_view from,
                           std::string_view to, uint64_t segment_size);

}  // namespace pgm::backup
