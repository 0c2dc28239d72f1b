// The retention job: for each server, delete what the retention rules (retention.h) no longer
// keep, remove crash leftovers, then prune WAL older than the oldest backup left (wal/ and
// wal_shipping). Runs in a forked child of the daemon; blocks on the disk and, through
// RemoteCopies, on the remote engines.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "pgm/activity/repository_state.h"
#include "pgm/config/model.h"
#include "pgm/core/result.h"

namespace pgm::backup {

// What retention needs of the off-site copies (offsite/offsite.h implements it).
class RemoteCopies {
 public:
  virtual ~RemoteCopies() = default;
  // Removes the backup's remote copies; an error keeps the local backup.
  virtual Result<void> remove_backup(const config::ServerConfig& server,
                                     const std::string& label) = 0;
  // The first local WAL segment some engine has not stored yet, "" when none.
  virtual std::string oldest_unshipped_wal(const config::ServerConfig& server) = 0;
  // Removes remote WAL segments older than `oldest_segment`.
  virtual Result<size_t> prune_wal(const config::ServerConfig& server,
                                   const std::string& oldest_segment) = 0;
};

// One server as the job sees it.
struct RetentionServer {
  const config::ServerConfig* server = nullptr;
  activity::RepositoryState* state = nullptr;  // its repository lock and activity flag
  uint64_t wal_segment_size = 0;               // 0 until probed: WAL is not pruned
};

// Removes crash leftovers under `root`: backup directories without a valid backup.info (a
// backup killed before its end) and ".delete-*" directories. Only under the repository lock.
void remove_leftovers(const std::string& root, const std::string& server);

// One pass over `servers`. A server whose repository lock is held is skipped this time; the
// lock and the "retention" activity are held while one is processed. Logs; never fails.
void run_retention(const config::Config& config, std::span<const RetentionServer> servers,
                   RemoteCopies& remote, std::chrono::system_clock::time_point now);

}  // namespace pgm::backup
