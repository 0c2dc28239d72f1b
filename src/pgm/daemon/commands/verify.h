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

// verify <server> <id> <directory> [failed|all]. Request: Server, Backup (label, oldest,
// newest, latest), Directory (accepted for pgmoneta compatibility and echoed; unused), Files
// ("failed", the default, or "all"). Response: Server, Backup, Directory, Files (count),
// Bytes, Valid, Failed [{Directory, FileName, HashAlgorithm, Original, Calculated, Problem}]
// and, for "all", All (same objects, every file). Any failed file makes the outcome a failure
// (kErrorVerifyExecute) that still carries the whole Response.
// With "Start": true (ours, `verify ... --start`) and every file good, the backup is then
// proven (restore/proven.h) in Directory when it is absolute, else in the workspace; the
// Response adds ProvenRestore (bool), ProvenRestoreReason, ProvenRestoreElapsed (seconds) and
// ProvenRestore{Restore,Start,Check}Elapsed, ...Databases, ...Tables, ...Indexes, ...Amcheck,
// ...Version. A failed proof is kErrorVerifyExecute naming the reason; a proof that could not
// run (no PostgreSQL binary, workspace) is kErrorVerifyError. The outcome is recorded in
// backup.info (PROVEN_RESTORE*) and in ServerState::proven_restore_*.
CommandResult verify_command(const DaemonContext& ctx, const nlohmann::json& request);

// One verification pass over every server (restore/verification_job.h) with each server's
// shared state.
void run_verification(const DaemonContext& ctx);

}  // namespace pgm::daemon
