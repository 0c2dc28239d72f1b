// Management commands that read a stored backup back: restore (and, next to it, archive).
// Each runs in a forked child and holds the server's repository lock, so no delete or
// retention removes files while they are read.
#pragma once

#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// restore <server> <id> [position] <dir>: into <dir>/<server>-<label>/ (reference §6.7).
CommandResult restore_command(const DaemonContext& ctx, const nlohmann::json& request);

// archive <server> <id> [position] <dir>: the same restore into a staging directory under the
// workspace (removed afterwards, whatever happens), then one tar file
// <dir>/archive-<server>-<label>.tar[<compression suffix>][.aes] with the backup's
// compression and encryption (restore/archive.h). An existing file of that name is an error.
CommandResult archive_command(const DaemonContext& ctx, const nlohmann::json& request);

}  // namespace pgm::daemon
