// Management commands that read a stored backup back: restore (and, next to it, archive).
// Each runs in a forked child and holds the server's repository lock, so no delete or
// retention removes files while they are read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/backup/repository.h"
#include "pgm/daemon/commands.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/daemon/context.h"
#include "pgm/restore/position.h"
#include "pgm/restore/recovery.h"

namespace pgm::daemon {

// ---------------------------------------------------------------------------------------------
// The steps of restore, shared with the off-site restores (commands/offsite.h), which stage a
// remote backup between the first two:
//   begin_restore          request checked (server, position, directory), repository lock held
//   select_restore_backup  backup chosen from a backup root, recovery settings planned
//   execute_restore        restore into <dir>/<server>-<label>, progress, the answer
// Each answers failures with the caller's error family; nullopt means "go on".

// The error family and words of one command.
struct RestoreCodes {
  management::Family family;  // the error family its failures are reported in
  const char* workflow;       // "restore", "s3 restore", ...: also the first word of log lines
  const char* done;           // "restored", "archived"
};

struct PreparedRestore {
  const config::ServerConfig* server = nullptr;
  ServerState* state = nullptr;
  std::unique_ptr<RepositoryLock> lock;
  std::vector<backup::BackupEntry> entries;
  const backup::BackupEntry* entry = nullptr;  // into entries
  restore::Position position;
  std::string directory;  // absolute, without trailing '/'
  restore::RecoveryPlan plan;
  std::string header;   // the comment above the generated recovery settings
  std::string wal_dir;  // where WAL is copied from; "" = the server's WAL directory
};

std::optional<CommandResult> begin_restore(const DaemonContext& ctx, const nlohmann::json& request,
                                           const RestoreCodes& codes, PreparedRestore& p);

// `backup_root` holds <label>/ directories (backup::backup_root() for the repository).
std::optional<CommandResult> select_restore_backup(const DaemonContext& ctx, std::string_view id,
                                                   const std::string& backup_root,
                                                   const RestoreCodes& codes, PreparedRestore& p);

// Marks the restore activity and its progress while it runs. The response is the restore answer
// (list-backup entry, Directory, Position, RestoredBytes, Files, WalFiles, Elapsed, ...).
CommandResult execute_restore(const DaemonContext& ctx, const nlohmann::json& request,
                              const RestoreCodes& codes, PreparedRestore& p);

}  // namespace pgm::daemon
