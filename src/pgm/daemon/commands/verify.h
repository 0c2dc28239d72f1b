// The verify command and the periodic verification job. Both run in a forked child of the
// daemon, hold the server's repository lock while they read its backups (a busy server: the
// command fails at once with kErrorVerifyActive, the job skips it this time) and publish their
// progress in the shared state (operation "verify", phase "verifying"). Verification
// itself is restore::verify_backup(): the stored files are checked in place, nothing is restored.
#pragma once

#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// One verification pass over every server (restore/verification_job.h) with each server's
// shared state.
void run_verification(const DaemonContext& ctx);

}  // namespace pgm::daemon
