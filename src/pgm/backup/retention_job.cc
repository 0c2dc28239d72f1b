#include "pgm/backup/retention_job.h"

#include <optional>
#include <string>
#include <vector>

#include "pgm/backup/repository.h"
#include "pgm/backup/retention.h"
#include "pgm/log/log.h"
#include "pgm/wal/prune.h"

namespace pgm::backup {

void remove_leftovers(const std::string& root, const std::string& server) {
  auto cleaned = cleanup_deleted(root);
  if (!cleaned) {
    log::warn("server {}: {}", server, cleaned.error().message());
  }
  auto entries = list_backups(root);
  if (!entries) {
    return;
  }
  for (const BackupEntry& e : *entries) {
    if (e.valid()) {
      continue;
    }
    // Only what is provably an incomplete backup of ours goes: no backup.info, or the
    // provisional one with STATUS=0 a backup writes before linking and syncing (docs/backup.md).
    // A backup.info that cannot be read or parsed may sit beside intact data: kept, invalid.
    if (!e.info_missing && !e.info.has_value()) {
      log::warn("server {}: backup {} is kept but invalid: {}", server, e.label, e.problem);
      continue;
    }
    log::warn("server {}: removing incomplete backup {} ({})", server, e.label,
              e.info.has_value() ? std::string("backup.info: STATUS=0") : e.problem);
    auto removed = remove_backup_directory(e.dir);
    if (!removed) {
      log::error("server {}: {}", server, removed.error().message());
    }
  }
}

void run_retention(const config::Config& c, std::span<const RetentionServer> servers,
                   RemoteCopies& remote, std::chrono::system_clock::time_point now) {
  for (const RetentionServer& target : servers) {
    const config::ServerConfig& s = *target.server;
    activity::RepositoryState& state = *target.state;
    activity::RepositoryLock lock(state);
    if (!lock.locked()) {
      log::debug("retention: server {} is busy, skipped this time", s.name);
      continue;
    }
    activity::ActivityGuard guard(state, activity::Activity::kRetention);
    std::string root = backup_root(c.base_dir, s.name);
    remove_leftovers(root, s.name);
    config::Retention r = config::effective_retention(c, s);
    RetentionPolicy policy{r.days, r.weeks, r.months, r.years};
    // pgmoneta deletes one backup per pass; we repeat the pass until the rules are met, so a
    // shortened retention frees its space in one job.
    for (int pass = 0; pass < 10000; ++pass) {
      auto entries = list_backups(root);
      if (!entries) {
        log::error("retention: server {}: {}", s.name, entries.error().message());
        break;
      }
      std::vector<RetentionBackup> candidates;
      for (const BackupEntry& e : *entries) {
        auto time = label_time(e.label);
        if (!time || !e.info) {
          continue;
        }
        RetentionBackup rb;
        rb.label = e.label;
        rb.time = *time;
        rb.keep = e.info->keep;
        rb.valid = e.info->valid;
        rb.parent = e.info->parent;
        candidates.push_back(std::move(rb));
      }
      RetentionDecision d = evaluate_retention(candidates, policy, now);
      if (!d.to_delete) {
        break;
      }
      if (auto removed = remote.remove_backup(s, *d.to_delete); !removed) {
        log::error("retention: server {}: backup {}: {}", s.name, *d.to_delete,
                   removed.error().message());
        break;
      }
      auto deleted = delete_backup(root, *d.to_delete, false);
      if (!deleted) {
        log::error("retention: server {}: deleting backup {}: {}", s.name, *d.to_delete,
                   deleted.error().message());
        break;
      }
      log::info("retention: deleted backup {} of server {} ({} bytes freed)", *d.to_delete, s.name,
                deleted->bytes_freed);
    }
    // WAL the oldest remaining backup does not need.
    auto entries = list_backups(root);
    uint64_t seg_size = target.wal_segment_size;
    if (entries && seg_size != 0) {
      const BackupEntry* oldest = nullptr;
      for (const BackupEntry& e : *entries) {
        if (e.valid()) {
          oldest = &e;
          break;
        }
      }
      // pgmoneta may write WAL=(null): then the segment of START_WALPOS.
      const std::string oldest_wal =
          oldest != nullptr ? first_wal_segment(*oldest->info, seg_size) : std::string();
      if (!oldest_wal.empty()) {
        std::vector<std::string> dirs = {config::wal_directory(c, s)};
        if (!s.wal_shipping.empty()) {
          dirs.push_back(config::wal_shipping_directory(s));
        }
        // Local WAL a remote engine has not stored yet stays (offsite/offsite.h).
        std::string keep_from = oldest_wal;
        std::string unshipped = remote.oldest_unshipped_wal(s);
        if (!unshipped.empty() && unshipped.substr(8) < keep_from.substr(8)) {
          keep_from = unshipped;
          log::warn(
              "retention: server {}: WAL from {} on is kept until every remote engine "
              "has stored it",
              s.name, unshipped);
        }
        if (auto pruned = remote.prune_wal(s, oldest_wal); !pruned) {
          log::error("retention: server {}: pruning remote WAL: {}", s.name,
                     pruned.error().message());
        }
        for (const std::string& dir : dirs) {
          bool local = dir == dirs.front();
          auto pruned = wal::prune_wal_before(dir, local ? keep_from : oldest_wal, seg_size);
          if (!pruned) {
            log::error("retention: server {}: pruning {}: {}", s.name, dir,
                       pruned.error().message());
          }
        }
      }
    }
  }
}

}  // namespace pgm::backup
