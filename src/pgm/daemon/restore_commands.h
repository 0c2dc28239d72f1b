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

}  // namespace pgm::daemon
