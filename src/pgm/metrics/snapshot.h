// MetricsSnapshot: everything the daemon knows about itself, its servers and their backups, as
// plain values copied at one instant. The Prometheus text (prometheus.h) and the status page
// (status_page.h) are pure functions of it, so both are tested without a daemon; the daemon
// fills it in daemon/metrics_collect.h. A snapshot is a value type: thread-compatible.
//
// Unknown values are std::nullopt (or 0 where documented) and are left out of the output,
// never rendered as NaN.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgm::backup {
struct BackupInfo;
}

namespace pgm::metrics {

// `retention = D,W,M,Y`; an unset field is nullopt.
struct RetentionSnapshot {
  std::optional<int> days;
  std::optional<int> weeks;
  std::optional<int> months;
  std::optional<int> years;
};

// Space of a file system (statvfs), bytes.
struct SpaceSnapshot {
  uint64_t free = 0;
  uint64_t total = 0;
};

struct BackupSnapshot {
  std::string label;           // YYYYMMDDHHMMSS (local time of the start)
  bool info_readable = false;  // false: backup.info missing or corrupt; only label/valid below
  bool valid = false;
  bool keep = false;  // retained
  bool incremental = false;
  std::string parent;         // parent label of an incremental backup
  uint64_t backup_size = 0;   // bytes stored
  uint64_t restore_size = 0;  // bytes after restore
  uint32_t start_timeline = 0;
  uint32_t end_timeline = 0;
  uint64_t start_lsn = 0;
  uint64_t end_lsn = 0;
  uint64_t checkpoint_lsn = 0;
  double elapsed_seconds = 0;  // whole backup
  int major_version = 0;       // PostgreSQL
  int minor_version = 0;
  std::string compression;  // "none", "zstd", "server-gzip", ...
  std::string encryption;   // "none", "aes-256-gcm", ...
  // Start of the backup (the label's local time), seconds since the epoch; 0 when unknown.
  int64_t start_epoch = 0;
  // Proven restore recorded in backup.info (PROVEN_RESTORE*), when one ran for this backup.
  std::optional<bool> proven_restore;
  std::string proven_restore_time;  // label-style local time, as recorded
  std::optional<double> proven_restore_elapsed_seconds;
  // Remote engines holding a complete copy (backup.info STORAGE_<ENGINE>): "ssh", "s3", ...
  std::vector<std::string> remote;
};

// One remote engine of `storage_engine` as seen from one server (offsite/offsite.h).
struct OffsiteSnapshot {
  std::string engine;            // "ssh", "s3", "azure"
  int failures = 0;              // consecutive failed attempts; 0 after a success
  uint64_t pending_backups = 0;  // valid local backups the engine has no copy of yet
};

// Fills the backup.info part of a BackupSnapshot (sizes, LSNs, versions, names, proven
// restore keys); label and start_epoch are left to the caller.
BackupSnapshot backup_from_info(const backup::BackupInfo& info);

// pgmoneta's backup.info COMPRESSION byte (0x10 client / 0x20 server | 1 gzip, 2 zstd, 3 lz4,
// 4 bzip2) and ENCRYPTION byte (0 none, 1..3 aes-256/192/128-gcm) as names.
std::string compression_name(uint8_t type_byte);
std::string encryption_name(uint8_t mode);

// Which operation the progress fields describe.
struct ProgressSnapshot {
  std::string operation;         // "backup", "restore", "verify", "archive"
  std::string phase;             // "starting", "streaming", "finishing"
  uint64_t done = 0;             // bytes
  uint64_t total = 0;            // bytes; 0 when unknown
  int64_t started_epoch_ms = 0;  // wall clock; 0 when unknown
};

struct ServerMetrics {
  std::string name;
  bool probed = false;  // false: the version facts below are unknown
  bool online = false;
  std::string offline_reason;  // why it is offline; empty when online or unknown
  bool valid = true;           // false: the WAL slot is missing or not physical
  bool primary = false;
  bool checksums = false;
  bool summarize_wal = false;
  int workers = 0;
  int major_version = 0;
  int minor_version = 0;

  // WAL receiver. LSNs are 0 when unknown.
  bool wal_streaming = false;
  uint32_t timeline = 0;  // 0 when unknown
  uint64_t wal_received_lsn = 0;
  uint64_t wal_flushed_lsn = 0;
  uint64_t server_end_lsn = 0;  // the server's current end of WAL as last reported
  // Complete WAL segments still plain, waiting to be compressed/encrypted (a full disk keeps
  // them waiting).
  uint32_t wal_unfinished_segments = 0;
  std::string current_wal_file;
  std::string wal_last_error;  // the receiver's last error, empty when none
  // WAL continuity (docs/monitoring.md, "WAL continuity and RPO"): wal_checked false until the
  // first check; then wal_gap, and the first missing or corrupt segment with what is wrong
  // ("missing" or the decoder's finding). rpo_seconds: nullopt when unknown.
  bool wal_checked = false;
  bool wal_gap = false;
  std::string wal_first_missing_segment;
  std::string wal_gap_problem;
  std::optional<int64_t> rpo_seconds;
  // Bytes of WAL stored under <base_dir>/<server>/wal; nullopt when not measured.
  std::optional<uint64_t> wal_total_size;

  bool active_backup = false;
  bool active_restore = false;
  bool active_archive = false;
  bool active_delete = false;
  bool active_retention = false;
  std::optional<ProgressSnapshot> progress;  // set while an operation runs

  // Since the daemon started or the last `clear prometheus`.
  uint64_t operation_count = 0;
  uint64_t failed_operation_count = 0;

  // Last proven restore of this server: -1 none yet, 0 failed, 1 succeeded.
  int proven_restore_ok = -1;
  int64_t proven_restore_epoch = 0;  // when it ended
  uint64_t proven_restore_ms = 0;    // how long it took
  std::string proven_restore_label;  // the backup it proved

  std::optional<SpaceSnapshot> workspace_space;
  // Hot standby copies (<directory>/<server> of each hot_standby directory that exists):
  // their bytes and their file systems' space, summed over the copies as pgmoneta does.
  uint64_t hot_standby_size = 0;
  SpaceSnapshot hot_standby_space;
  // Last update after a backup: -1 none yet (or none configured), 0 a copy failed, 1 all
  // updated; when it ended; failed updates since the daemon started.
  int hot_standby_ok = -1;
  int64_t hot_standby_epoch = 0;
  uint64_t hot_standby_failures = 0;
  RetentionSnapshot retention;  // effective (global values filled in)

  std::vector<BackupSnapshot> backups;   // ascending by label
  std::vector<OffsiteSnapshot> offsite;  // one per enabled remote engine
};

struct MetricsSnapshot {
  std::string version;      // ours, "0.22.0"
  int64_t now_epoch = 0;    // when the snapshot was taken; ages are relative to it
  int64_t start_epoch = 0;  // daemon start; 0 when unknown
  bool running = true;      // false once shutting down
  bool fips = false;
  uint8_t compression_type = 0;  // pgmoneta's type byte of the configured compression
  std::string compression;       // configured, as written ("zstd", "server-lz4", ...)
  std::string encryption;        // configured ("none", "aes-256-gcm", ...)
  RetentionSnapshot retention;   // global

  // Log lines written per level since start; nullopt when the logger does not count them.
  std::optional<uint64_t> logging_info;
  std::optional<uint64_t> logging_warn;
  std::optional<uint64_t> logging_error;
  std::optional<uint64_t> logging_fatal;

  // base_dir: bytes used by the repository (backups + WAL) and the file system's space.
  std::optional<uint64_t> used_space;
  std::optional<SpaceSnapshot> base_dir_space;

  // MetricsCounters values (counters.h).
  uint64_t scrapes_total = 0;
  int64_t counters_reset_epoch = 0;  // 0: never reset
  // Time spent building this snapshot; nullopt when not measured.
  std::optional<double> collect_seconds;

  std::vector<ServerMetrics> servers;  // in configuration order
};

}  // namespace pgm::metrics
