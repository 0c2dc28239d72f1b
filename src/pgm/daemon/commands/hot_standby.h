// The hot-standby step of a backup (restore/hot_standby.h): after a backup of a server is
// complete, each of its hot_standby directories becomes a copy of it. Runs in the backup's
// child, under the repository lock. A failed copy never fails the backup: it is logged at
// ERROR, counted in the server's shared state (metric pgmoneta_hot_standby_success) and
// reported in the backup's answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/backup/info.h"
#include "pgm/daemon/context.h"
#include "pgm/daemon/shared_state.h"

namespace pgm::daemon {

// Updates every hot_standby directory of `server` from the backup in `backup_dir`. Returns
// one object per directory (Directory, Updated, FilesWritten, BytesWritten, FilesReused,
// BytesReused, Elapsed, Error); an empty array when none is configured.
nlohmann::json update_hot_standbys(const DaemonContext& ctx, const config::ServerConfig& server,
                                   ServerState& state, const std::string& backup_dir,
                                   const backup::BackupInfo& info);

// <hot_standby>/<server> for each hot_standby directory of `server`.
std::vector<std::string> hot_standby_copies(const config::ServerConfig& server);
// Bytes of those copies, summed (status' HotStandbySize, the metric pgmoneta_hot_standby).
uint64_t hot_standby_size(const config::ServerConfig& server);

// Clears what updates killed midway left beside the copies of every server (start-up).
void clear_hot_standby_leftovers(const config::Config& config);

}  // namespace pgm::daemon
