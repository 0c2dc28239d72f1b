// Proven restores (ours): a backup is restored into the workspace, a throwaway PostgreSQL of the
// backup's major version starts on the copy, and only a copy that reaches consistency and passes
// the checks counts as proven. Blocking; one call at a time per workspace directory. The outcome
// is recorded in backup.info with set_proven_keys().
//
// The throwaway server:
//   - data in <workspace>/proven-<server>-<label>-<pid>/data (tablespaces next to it), socket
//     in .../sock (0700; a private /tmp/pgm-proven-XXXXXX when that path is too long for a
//     socket), log in .../postgres.log; the whole directory is removed on every path;
//   - no recovery target: PostgreSQL replays the backup's own WAL (pg_wal) from backup_label's
//     checkpoint, refuses to open before the backup's end point, and then accepts connections
//     as a primary. "Consistent" therefore means: connections are accepted and
//     pg_is_in_recovery() is false. Nothing from the WAL archive is used;
//   - command-line settings override the copied configuration: listen_addresses='', a free
//     port, archive_mode=off, no primary_conninfo/restore_command, shared_preload_libraries='',
//     ssl=off, fsync=off, small max_connections/shared_buffers; pg_hba.conf is replaced by
//     "local all all trust" and recovery.signal / standby.signal are removed;
//   - it runs as the calling user (never root), dies with the caller (PR_SET_PDEATHSIG), and is
//     stopped with SIGINT (fast shutdown), SIGKILL after 30 s.
// Checks, in every database with datallowconn: a read of pg_class and pg_attribute, a
// sequential read of user tables within max_read_bytes, and, when the amcheck extension is
// available, bt_index_check() on btree indexes (pg_catalog and user schemas, at most
// max_indexes per database).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

struct ProvenOptions {
  std::string server;      // names the directory and messages
  std::string backup_dir;  // <base_dir>/<server>/backup/<label>
  backup::BackupInfo info;
  std::string workspace;  // parent directory; created (0700) when missing
  const crypto::MasterKey* key = nullptr;
  int workers = 1;
  // PostgreSQL's bin directory; "" = /usr/lib/postgresql/<MAJOR_VERSION>/bin.
  std::string pg_bin_dir;
  // Roles tried, in order, for the first connection (then the bootstrap superuser, OID 10, is
  // used); the OS user's name and "postgres" are always tried last.
  std::vector<std::string> users;
  std::chrono::seconds start_timeout{120};  // until consistent
  std::chrono::seconds check_timeout{600};  // statement_timeout of every check
  uint64_t max_read_bytes = 1ull << 30;     // user tables read per database
  size_t max_indexes = 5000;                // btree indexes checked per database
};

struct ProvenResult {
  bool ok = false;
  // Why not ok, one line: the first PANIC/FATAL/ERROR of the server's log ("FATAL: incorrect
  // checksum in control file"), a restore error or a failed check. Empty when ok.
  std::string reason;
  backup::Seconds restore_elapsed{0};
  backup::Seconds start_elapsed{0};  // start until consistent
  backup::Seconds check_elapsed{0};
  backup::Seconds total_elapsed{0};
  int databases = 0;       // databases checked
  int tables = 0;          // user tables read
  int indexes = 0;         // indexes checked with amcheck
  bool amcheck = false;    // amcheck was available
  std::string pg_version;  // server_version of the throwaway server
};

// Proves one backup. A backup that does not restore (kCorruption), does not start, does not
// become consistent in time or fails a check gives ok == false with a reason. Errors are for
// what says nothing about the backup: the workspace cannot be created (kIo), no postgres binary
// for the major version (kNotFound "no PostgreSQL 15 server binary: /usr/lib/...: ..."),
// running as root (kPermission), not enough space (kUnavailable), fork failures.
Result<ProvenResult> prove_restore(const ProvenOptions& options);

// backup.info keys (appended after pgmoneta's keys, which it ignores): PROVEN_RESTORE=1|0,
// PROVEN_RESTORE_TIME=<local time YYYYMMDDHHMMSS>, PROVEN_RESTORE_ELAPSED=%.4f,
// PROVEN_RESTORE_REASON=<one line, empty when ok>. Existing values are replaced in place.
inline constexpr const char* kProvenRestoreKey = "PROVEN_RESTORE";
inline constexpr const char* kProvenRestoreTimeKey = "PROVEN_RESTORE_TIME";
inline constexpr const char* kProvenRestoreElapsedKey = "PROVEN_RESTORE_ELAPSED";
inline constexpr const char* kProvenRestoreReasonKey = "PROVEN_RESTORE_REASON";
void set_proven_keys(backup::BackupInfo& info, const ProvenResult& result,
                     std::chrono::system_clock::time_point when);

}  // namespace pgm::restore
