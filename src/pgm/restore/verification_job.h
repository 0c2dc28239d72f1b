// The verification workflow: verify a stored backup in place (verify.h) and prove it by a
// restore that PostgreSQL starts on (proven.h), publishing progress and recording the proof
// in the server's shared state and backup.info; and the periodic verification job over every
// server. Runs in a forked child of the daemon; blocks on the disk and on PostgreSQL.
#pragma once

#include <span>
#include <string>

#include "pgm/activity/repository_state.h"
#include "pgm/backup/repository.h"
#include "pgm/config/model.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/restore/proven.h"
#include "pgm/restore/verify.h"

namespace pgm::restore {

// One server as the verification sees it.
struct VerificationServer {
  const config::ServerConfig* server = nullptr;
  activity::RepositoryState* state = nullptr;  // repository lock, progress, proven_restore_*
};

// "<path>: <problem>", as logs and answers name a failed file.
std::string describe(const VerifyFile& f);

// The server's workspace (server `workspace`, else the global one).
std::string workspace_of(const config::Config& config, const config::ServerConfig& server);

// Verifies one stored backup (entry.info set), publishing progress as operation "verify",
// phase "verifying". `keep_all` lists every file in the report. The caller holds the lock.
Result<VerifyReport> verify_stored_backup(const config::Config& config,
                                          const VerificationServer& target,
                                          const crypto::MasterKey* key,
                                          const backup::BackupEntry& entry, bool keep_all);

// Proves one backup in `workspace` and records the outcome in its backup.info and in the
// shared state. An error says nothing about the backup (no binary, no workspace); it is not
// recorded. The caller holds the repository lock.
Result<ProvenResult> prove_stored_backup(const config::Config& config,
                                         const VerificationServer& target,
                                         const crypto::MasterKey* key,
                                         const backup::BackupEntry& entry,
                                         const std::string& workspace);

// One verification pass (Config::verification > 0): every valid backup of each server, newest
// first; a line per backup at INFO when good, one ERROR line per failed file otherwise. With
// verification_start (global or per server) the newest valid backup of each server is also
// proven when its files are good. A server whose repository lock is held is skipped.
void run_verification(const config::Config& config, std::span<const VerificationServer> servers,
                      const crypto::MasterKey* key);

}  // namespace pgm::restore
