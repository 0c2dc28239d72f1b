// The offsite module: off-site copies. The remote engines of `storage_engine` (ssh, s3, azure) hold
// copies of the backups and WAL of base_dir, which stays the primary copy.
//
// Remote layout, per engine, keys relative to the engine's base directory:
//   <server>/backup/<label>/...   a backup (storage/transfer.h: backup.info uploaded last)
//   <server>/wal/<file>           a completed WAL file under its local name (compression and
//                                 .aes suffixes included); .partial files are never shipped
//
// Backups: after a backup completes it is uploaded to every enabled engine; each complete copy
// is recorded in the local backup.info as STORAGE_<ENGINE>=<UTC time> (STORAGE_SSH,
// STORAGE_S3, STORAGE_AZURE) and its time in REMOTE_<ENGINE>_ELAPSED. A failed upload leaves
// the key unset and is retried by the periodic pass (run_offsite). Delete and retention remove
// the remote copies first; a remote removal that fails keeps the local backup. Retention
// also prunes remote WAL as it prunes local WAL.
//
// WAL: the periodic pass ships completed WAL files in name order; the engine's high-water mark
// (<base_dir>/<server>/.offsite/<engine>.wal: the last file stored) advances only after the
// file is stored, durably (temp, fsync, rename). Retention does not prune local WAL files the
// enabled engines have not stored yet.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pgm/activity/repository_state.h"
#include "pgm/backup/retention_job.h"
#include "pgm/config/model.h"
#include "pgm/core/result.h"
#include "pgm/storage/configured.h"

namespace pgm::offsite {

// What the off-site workflows see of the daemon: the configuration, and each server's shared
// repository state (engine backoff, repository lock) at its index in config->servers. A
// missing or null state means no backoff is kept for that server. Borrowed, not owned.
struct OffsiteContext {
  const config::Config* config = nullptr;
  std::vector<activity::RepositoryState*> states;

  activity::RepositoryState* state_of(const config::ServerConfig& server) const;
};

// "<server>/wal/<file>".
std::string remote_wal_key(const std::string& server, const std::string& file);
// "<server>/wal/".
std::string remote_wal_prefix(const std::string& server);

// Parallel objects of one upload or download of a backup (storage::Parallel::workers).
int transfer_workers(const config::Config& config, const config::ServerConfig& server);

// "STORAGE_SSH", "STORAGE_S3", "STORAGE_AZURE".
std::string stored_key(storage::Engine engine);

// Outcome of one engine's upload of one backup.
struct OffsiteCopy {
  storage::Engine engine = storage::Engine::kS3;
  bool stored = false;  // complete remote copy recorded in backup.info
  double elapsed = 0;   // seconds
  uint64_t bytes = 0;   // uploaded
  std::string error;    // one line naming the engine and the cause when !stored
};

// Uploads <base_dir>/<server>/backup/<label> to every enabled engine that does not have it yet
// and records the copies in backup.info. The caller holds the server's repository lock.
std::vector<OffsiteCopy> copy_backup_offsite(const OffsiteContext& ctx,
                                             const config::ServerConfig& server,
                                             const std::string& label);

// Removes the backup from every enabled engine (missing objects are fine). The first engine
// that fails stops the removal: the error names it. The caller holds the repository lock.
Result<void> remove_backup_offsite(const OffsiteContext& ctx, const config::ServerConfig& server,
                                   const std::string& label);

// The first local WAL file name (24 hex digits) some enabled engine has not stored yet, or ""
// when every engine has everything (or no engine is enabled).
std::string oldest_unshipped_wal(const OffsiteContext& ctx, const config::ServerConfig& server);

// Retention of remote WAL: removes from every enabled engine the WAL segments older than
// `oldest_segment` (the first WAL segment of the oldest backup kept; the timeline does not
// matter, as for local pruning). History files stay. Returns how many objects went; the
// first engine that fails stops it (the next retention pass tries again).
Result<size_t> prune_remote_wal(const OffsiteContext& ctx, const config::ServerConfig& server,
                                const std::string& oldest_segment);

// The periodic pass, in a forked child: for each server, ship new WAL files and upload the
// valid backups an enabled engine does not have yet (skipping a server whose repository is
// busy, or without a state in ctx). Logs what it did; never throws.
void run_offsite(const OffsiteContext& ctx);

// Retention's view of the off-site copies (backup/retention_job.h): the functions above.
class OffsiteRemote : public backup::RemoteCopies {
 public:
  explicit OffsiteRemote(OffsiteContext ctx) : ctx_(std::move(ctx)) {}
  Result<void> remove_backup(const config::ServerConfig& server,
                             const std::string& label) override {
    return remove_backup_offsite(ctx_, server, label);
  }
  std::string oldest_unshipped_wal(const config::ServerConfig& server) override {
    return offsite::oldest_unshipped_wal(ctx_, server);
  }
  Result<size_t> prune_wal(const config::ServerConfig& server,
                           const std::string& oldest_segment) override {
    return prune_remote_wal(ctx_, server, oldest_segment);
  }

 private:
  OffsiteContext ctx_;
};

}  // namespace pgm::offsite
