// Management commands on a server's backups, and the retention job's entry point. Each runs in
// a forked child of the daemon (they block on PostgreSQL and the disk). Commands that change the
// repository (backup, delete, retention) hold the server's repository lock for their whole
// run; a second one fails at once with the family's "active" code, never queues.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>

#include "pgm/backup/repository.h"
#include "pgm/core/result.h"
#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// One retention job over every server (backup/retention_job.h), with the off-site copies
// (offsite/offsite.h) and each server's shared state.
void run_retention(const DaemonContext& ctx, std::chrono::system_clock::time_point now);

// The list-backup objects (backup_json.h) of every backup of server `index`, in `order`, with
// the WAL figures from the server's stored segments. Used by list-backup and status details.
Result<nlohmann::json> backups_json(const DaemonContext& ctx, size_t index,
                                    backup::SortOrder order);

}  // namespace pgm::daemon
