// Test-only: a sample MetricsSnapshot with two servers and a few backups, including a server
// name that needs escaping in every output format.
#pragma once

#include <set>
#include <string>

#include "pgm/metrics/snapshot.h"

namespace pgm::metrics::testing {

// pgmoneta's gauge whose name ends in _total (bytes the running operation will process).
inline std::set<std::string> compatibility_total_gauges() { return {}; }

inline constexpr int64_t kNow = 1769421089;  // 2026-01-26 09:51:29 UTC
inline constexpr int64_t kHour = 3600;
inline constexpr int64_t kDay = 24 * kHour;

inline BackupSnapshot sample_backup(const std::string& label, int64_t start_epoch, bool valid) {
  BackupSnapshot b;
  b.label = label;
  b.info_readable = true;
  b.valid = valid;
  b.backup_size = 42ULL << 20;
  b.restore_size = 800ULL << 20;
  b.start_timeline = 1;
  b.end_timeline = 1;
  b.start_lsn = 0x1000028;
  b.end_lsn = 0x1000100;
  b.checkpoint_lsn = 0x1000060;
  b.elapsed_seconds = 12.5;
  b.major_version = 15;
  b.minor_version = 4;
  b.compression = "zstd";
  b.encryption = "none";
  b.start_epoch = start_epoch;
  return b;
}

inline MetricsSnapshot sample_snapshot() {
  MetricsSnapshot s;
  s.version = "0.22.0";
  s.now_epoch = kNow;
  s.start_epoch = kNow - kHour;
  s.compression_type = 0x12;
  s.compression = "zstd";
  s.encryption = "aes-256-gcm";
  s.retention.days = 7;
  s.logging_info = 10;
  s.logging_warn = 2;
  s.logging_error = 1;
  s.logging_fatal = 0;
  s.used_space = 3ULL << 30;
  s.base_dir_space = SpaceSnapshot{100ULL << 30, 500ULL << 30};
  s.scrapes_total = 5;
  s.counters_reset_epoch = kNow - 60;
  s.collect_seconds = 0.0125;

  ServerMetrics primary;
  primary.name = "primary";
  primary.probed = true;
  primary.online = true;
  primary.primary = true;
  primary.checksums = true;
  primary.workers = 2;
  primary.major_version = 15;
  primary.minor_version = 4;
  primary.wal_streaming = true;
  primary.timeline = 1;
  primary.wal_received_lsn = 0x3000100;
  primary.wal_flushed_lsn = 0x3000000;
  primary.server_end_lsn = 0x3000400;
  primary.wal_unfinished_segments = 2;
  primary.wal_checked = true;
  primary.wal_gap = true;
  primary.wal_first_missing_segment = "000000010000000000000002";
  primary.wal_gap_problem = "missing";
  primary.rpo_seconds = 12;
  primary.current_wal_file = "000000010000000000000003";
  primary.wal_last_error = "terminating walreceiver: timeout";
  primary.wal_total_size = 48ULL << 20;
  primary.active_backup = true;
  primary.progress =
      ProgressSnapshot{"backup", "streaming", 400 << 20, 800 << 20, (kNow - 30) * 1000};
  primary.operation_count = 4;
  primary.failed_operation_count = 1;
  primary.proven_restore_ok = 1;
  primary.hot_standby_size = 3 << 20;
  primary.hot_standby_space = {100 << 20, 400 << 20};
  primary.hot_standby_ok = 0;
  primary.hot_standby_epoch = kNow - 60;
  primary.hot_standby_failures = 1;
  primary.proven_restore_epoch = kNow - 2 * kHour;
  primary.proven_restore_ms = 15250;
  primary.proven_restore_label = "20260126080000";
  primary.workspace_space = SpaceSnapshot{10ULL << 30, 20ULL << 30};
  primary.retention.days = 7;
  primary.retention.weeks = 4;
  primary.backups.push_back(sample_backup("20260125080000", kNow - 26 * kHour, true));
  BackupSnapshot failed = sample_backup("20260125120000", kNow - 22 * kHour, false);
  primary.backups.push_back(failed);
  BackupSnapshot newest = sample_backup("20260126080000", kNow - 2 * kHour, true);
  newest.keep = true;
  newest.incremental = true;
  newest.parent = "20260125080000";
  newest.proven_restore = true;
  newest.remote = {"s3"};
  newest.proven_restore_time = "20260126094000";
  newest.proven_restore_elapsed_seconds = 15.25;
  primary.backups.push_back(newest);
  BackupSnapshot broken;
  broken.label = "20260126090000";
  primary.backups.push_back(broken);
  primary.offsite.push_back(OffsiteSnapshot{"s3", 2, 1});

  // A name needing escaping everywhere: quote, backslash, '<', '&'.
  ServerMetrics odd;
  odd.name = "we\"ird\\<b>&";
  odd.probed = false;
  odd.online = false;
  odd.offline_reason = "connection refused";
  odd.valid = false;
  odd.workers = 1;
  odd.retention.days = 7;
  odd.backups.push_back(sample_backup("20260120080000", kNow - 6 * kDay, true));

  s.servers.push_back(primary);
  s.servers.push_back(odd);
  return s;
}

}  // namespace pgm::metrics::testing
