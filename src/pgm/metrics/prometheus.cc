#include "pgm/metrics/prometheus.h"

#include <cmath>
#include <cstdint>
#include <set>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace pgm::metrics {

namespace {

enum class Type { kGauge, kCounter };

using Labels = std::vector<std::pair<std::string_view, std::string>>;

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Collects samples per family, then writes each family once, in the order families were
// first declared.
class Exposition {
 public:
  // Declares a family; declaring it again is a no-op (the first help and type stay).
  void family(std::string_view name, Type type, std::string_view help) {
    if (index_.find(std::string(name)) != index_.end()) {
      return;
    }
    index_.emplace(std::string(name), families_.size());
    families_.push_back(Family{std::string(name), type, std::string(help), {}});
  }

  // Adds a sample to a declared family. Non-finite values are left out; so is a second
  // sample with the same labels (cannot happen with distinct server names and labels).
  template <typename T>
  void sample(std::string_view name, const Labels& labels, T value) {
    std::string text;
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) {
        return;
      }
      text = fmt::format("{}", value);
    } else if constexpr (std::is_same_v<T, bool>) {
      text.push_back(value ? '1' : '0');
    } else {
      text = fmt::format("{}", value);
    }
    auto it = index_.find(std::string(name));
    if (it == index_.end()) {
      return;  // a bug in this file: every sample's family is declared first
    }
    std::string series(name);
    if (!labels.empty()) {
      series += '{';
      bool first = true;
      for (const auto& [key, val] : labels) {
        if (!first) {
          series += ',';
        }
        first = false;
        series += fmt::format("{}=\"{}\"", key, escape_label_value(val));
      }
      series += '}';
    }
    if (!seen_.insert(series).second) {
      return;
    }
    families_[it->second].samples.push_back(series + ' ' + text);
  }

  std::string text() const {
    std::string out;
    for (const Family& f : families_) {
      if (f.samples.empty()) {
        continue;
      }
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name,
                         f.type == Type::kCounter ? "counter" : "gauge");
      for (const std::string& s : f.samples) {
        out += s;
        out += '\n';
      }
    }
    return out;
  }

 private:
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::vector<std::string> samples;
  };
  std::vector<Family> families_;
  std::unordered_map<std::string, size_t> index_;
  std::set<std::string> seen_;
};

// Declares a gauge and adds one sample.
template <typename T>
void gauge(Exposition& e, std::string_view name, std::string_view help, const Labels& labels,
           T value) {
  e.family(name, Type::kGauge, help);
  e.sample(name, labels, value);
}

template <typename T>
void counter(Exposition& e, std::string_view name, std::string_view help, const Labels& labels,
             T value) {
  e.family(name, Type::kCounter, help);
  e.sample(name, labels, value);
}

std::string format_lsn(uint64_t lsn) {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

// A label (YYYYMMDDHHMMSS) as the number pgmoneta reports for oldest/newest; 0 if not digits.
uint64_t label_number(const std::string& label) {
  uint64_t n = 0;
  for (char c : label) {
    if (c < '0' || c > '9') {
      return 0;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

constexpr double kMiB = 1024.0 * 1024.0;

void render_global(Exposition& e, const MetricsSnapshot& s) {
  gauge(e, "pgmoneta_state", "The state of pgmoneta: 1 running, 0 shutting down", {}, s.running);
  gauge(e, "pgmoneta_version", "The version of pgmoneta (always 1; the version is a label)",
        {{"version", s.version}}, 1);
  if (s.start_epoch > 0) {
    gauge(e, "pgmoneta_start_time_seconds",
          "When pgmoneta started, in seconds since the Unix epoch", {}, s.start_epoch);
    if (s.now_epoch >= s.start_epoch) {
      gauge(e, "pgmoneta_uptime_seconds", "How long pgmoneta has been running, in seconds", {},
            s.now_epoch - s.start_epoch);
    }
  }
  gauge(e, "pgmoneta_fips", "1 when OpenSSL runs in FIPS mode, else 0", {}, s.fips);
  gauge(e, "pgmoneta_compression",
        "The configured compression as pgmoneta's type byte (0 none; 16 + 1 gzip, 2 zstd, "
        "3 lz4, 4 bzip2 on the client; 32 + the same on the server)",
        {}, s.compression_type);
  gauge(e, "pgmoneta_configuration_info",
        "The configured compression and encryption (always 1; the settings are labels)",
        {{"compression", s.compression}, {"encryption", s.encryption}}, 1);

  const std::pair<const char*, const std::optional<uint64_t>*> logging[] = {
      {"pgmoneta_logging_info", &s.logging_info},
      {"pgmoneta_logging_warn", &s.logging_warn},
      {"pgmoneta_logging_error", &s.logging_error},
      {"pgmoneta_logging_fatal", &s.logging_fatal}};
  for (const auto& [name, value] : logging) {
    if (value->has_value()) {
      gauge(e, name, "Log lines written at this level since pgmoneta started", {}, **value);
    }
  }

  // pgmoneta has pgmoneta_retention_days/_weeks/_months/_years; Prometheus' lint (promtool
  // check metrics) rejects time units other than seconds in a name, so we follow the shape of
  // pgmoneta_retention_server instead: one family with the unit as a label.
  const std::pair<const char*, const std::optional<int>*> retention[] = {
      {"days", &s.retention.days},
      {"weeks", &s.retention.weeks},
      {"months", &s.retention.months},
      {"years", &s.retention.years}};
  for (const auto& [parameter, value] : retention) {
    gauge(e, "pgmoneta_retention",
          "The global retention per parameter (days, weeks, months, years; 0 = not set)",
          {{"parameter", parameter}}, value->value_or(0));
  }

  if (s.used_space) {
    gauge(e, "pgmoneta_used_space", "Bytes used by the repository under base_dir (backups and WAL)",
          {}, *s.used_space);
  }
  if (s.base_dir_space) {
    gauge(e, "pgmoneta_free_space", "Bytes available on the file system of base_dir", {},
          s.base_dir_space->free);
    gauge(e, "pgmoneta_total_space", "Bytes in total on the file system of base_dir", {},
          s.base_dir_space->total);
  }

  counter(e, "pgmoneta_scrapes_total",
          "Prometheus responses built since start or the last `clear prometheus`", {},
          s.scrapes_total);
  if (s.counters_reset_epoch > 0) {
    gauge(e, "pgmoneta_counters_reset_timestamp_seconds",
          "When `clear prometheus` last reset the counters, in seconds since the Unix epoch", {},
          s.counters_reset_epoch);
  }
  if (s.collect_seconds) {
    gauge(e, "pgmoneta_scrape_duration_seconds",
          "Seconds spent collecting the values of this response", {}, *s.collect_seconds);
  }
}

void render_server(Exposition& e, const MetricsSnapshot& s, const ServerMetrics& srv) {
  const Labels name{{"name", srv.name}};

  const std::pair<const char*, std::optional<int>> retention[] = {{"days", srv.retention.days},
                                                                  {"weeks", srv.retention.weeks},
                                                                  {"months", srv.retention.months},
                                                                  {"years", srv.retention.years}};
  for (const auto& [parameter, value] : retention) {
    gauge(e, "pgmoneta_retention_server",
          "The effective retention of a server per parameter (days, weeks, months, years; "
          "0 = not set)",
          {{"name", srv.name}, {"parameter", parameter}}, value.value_or(0));
  }

  gauge(e, "pgmoneta_server_valid",
        "1 when the server's WAL slot is usable, 0 when the setup needs fixing", name, srv.valid);
  gauge(e, "pgmoneta_server_online", "1 when the server is reachable, else 0", name, srv.online);
  if (srv.probed) {
    gauge(e, "pgmoneta_server_primary", "1 when the server is a primary, 0 for a standby", name,
          srv.primary);
    gauge(e, "pgmoneta_server_checksums", "1 when the server has data checksums, else 0", name,
          srv.checksums);
    gauge(e, "pgmoneta_server_summarize_wal", "1 when the server has summarize_wal on, else 0",
          name, srv.summarize_wal);
    gauge(e, "pgmoneta_server_version",
          "The PostgreSQL version of the server (always 1; the version is in the labels)",
          {{"name", srv.name},
           {"major", std::to_string(srv.major_version)},
           {"minor", std::to_string(srv.minor_version)}},
          1);
  }
  gauge(e, "pgmoneta_server_workers", "The number of workers of the server", name, srv.workers);
  if (srv.timeline > 0) {
    gauge(e, "pgmoneta_server_timeline", "The timeline streamed from the server", name,
          srv.timeline);
  }
  // pgmoneta exposes these as the gauges pgmoneta_server_operation_count and
  // pgmoneta_server_failed_operation_count; promtool's lint refuses "_count" on a gauge, and
  // they count, so they are counters here under Prometheus' names.
  counter(e, "pgmoneta_operations_total",
          "Operations (backup, restore, verify, archive) of the server; reset by `clear "
          "prometheus`",
          name, srv.operation_count);
  counter(e, "pgmoneta_failed_operations_total",
          "Failed operations of the server; reset by `clear prometheus`", name,
          srv.failed_operation_count);

  // WAL.
  gauge(e, "pgmoneta_wal_streaming", "1 when WAL is being streamed from the server, else 0", name,
        srv.wal_streaming);
  if (!srv.current_wal_file.empty()) {
    gauge(e, "pgmoneta_current_wal_file",
          "The WAL segment being received (always 1; the file is a label)",
          {{"name", srv.name}, {"file", srv.current_wal_file}}, 1);
  }
  if (srv.wal_flushed_lsn > 0) {
    gauge(e, "pgmoneta_current_wal_lsn",
          "The WAL position stored durably (always 1; the LSN is a label)",
          {{"name", srv.name}, {"lsn", format_lsn(srv.wal_flushed_lsn)}}, 1);
  }
  if (srv.wal_received_lsn > 0) {
    gauge(e, "pgmoneta_wal_received_lsn", "The WAL position received, as a byte position", name,
          srv.wal_received_lsn);
  }
  if (srv.wal_flushed_lsn > 0) {
    gauge(e, "pgmoneta_wal_flushed_lsn",
          "The WAL position stored durably, as a byte position (rate() gives WAL bytes/s)", name,
          srv.wal_flushed_lsn);
  }
  if (srv.server_end_lsn > 0) {
    gauge(e, "pgmoneta_wal_server_lsn",
          "The server's end of WAL as last reported, as a byte position", name, srv.server_end_lsn);
  }
  if (srv.server_end_lsn > 0 && srv.wal_flushed_lsn > 0) {
    uint64_t lag =
        srv.server_end_lsn > srv.wal_flushed_lsn ? srv.server_end_lsn - srv.wal_flushed_lsn : 0;
    gauge(e, "pgmoneta_wal_lag_bytes",
          "Bytes of WAL the server has that are not yet stored durably here", name, lag);
  }
  gauge(e, "pgmoneta_wal_unfinished_segments",
        "Complete WAL segments stored plain, waiting to be compressed or encrypted", name,
        srv.wal_unfinished_segments);
  if (srv.wal_checked) {
    gauge(e, "pgmoneta_wal_gap",
          "1 when the stored WAL misses a segment or holds a corrupt one between the oldest "
          "backup's start and the newest segment, else 0",
          name, srv.wal_gap);
    if (srv.wal_gap) {
      gauge(e, "pgmoneta_wal_first_missing_segment",
            "The first missing or corrupt WAL segment (always 1; the segment is a label)",
            {{"name", srv.name}, {"segment", srv.wal_first_missing_segment}}, 1);
    }
  }
  if (srv.rpo_seconds) {
    gauge(e, "pgmoneta_rpo_seconds",
          "Seconds of committed work lost if the server vanished now (0 when all its WAL is "
          "stored)",
          name, *srv.rpo_seconds);
  }
  if (srv.wal_total_size) {
    gauge(e, "pgmoneta_wal_total_size", "Bytes of WAL stored for the server", name,
          *srv.wal_total_size);
  }

  // Space.
  uint64_t backups_size = 0;
  for (const BackupSnapshot& b : srv.backups) {
    backups_size += b.backup_size;
  }
  gauge(e, "pgmoneta_total_size", "Bytes stored for the server (backups and WAL)", name,
        backups_size + srv.wal_total_size.value_or(0));
  if (srv.workspace_space) {
    gauge(e, "pgmoneta_workspace_free_space",
          "Bytes available on the file system of the server's workspace", name,
          srv.workspace_space->free);
    gauge(e, "pgmoneta_workspace_total_space",
          "Bytes in total on the file system of the server's workspace", name,
          srv.workspace_space->total);
  }
  gauge(e, "pgmoneta_hot_standby", "Bytes of the server's hot standby copies", name,
        srv.hot_standby_size);
  gauge(e, "pgmoneta_hot_standby_free_space",
        "Bytes available on the file systems of the server's hot standby copies", name,
        srv.hot_standby_space.free);
  gauge(e, "pgmoneta_hot_standby_total_space",
        "Bytes in total on the file systems of the server's hot standby copies", name,
        srv.hot_standby_space.total);
  if (srv.hot_standby_ok >= 0) {
    gauge(e, "pgmoneta_hot_standby_success",
          "1 when the last backup updated every hot standby copy, 0 when one failed", name,
          srv.hot_standby_ok == 1);
    gauge(e, "pgmoneta_hot_standby_timestamp_seconds",
          "When the last hot standby update ended, in seconds since the epoch", name,
          srv.hot_standby_epoch);
    gauge(e, "pgmoneta_hot_standby_failed_updates",
          "Hot standby updates that failed since the daemon started (the backups stayed valid)",
          name, srv.hot_standby_failures);
  }

  // Activity.
  gauge(e, "pgmoneta_active_backup", "1 when a backup of the server is running, else 0", name,
        srv.active_backup);
  gauge(e, "pgmoneta_active_restore", "1 when a restore of the server is running, else 0", name,
        srv.active_restore);
  gauge(e, "pgmoneta_active_archive", "1 when an archive of the server is running, else 0", name,
        srv.active_archive);
  gauge(e, "pgmoneta_active_delete", "1 when a delete of the server is running, else 0", name,
        srv.active_delete);
  gauge(e, "pgmoneta_active_retention", "1 when retention of the server is running, else 0", name,
        srv.active_retention);
  if (srv.progress) {
    const ProgressSnapshot& p = *srv.progress;
    const Labels labels{{"name", srv.name}, {"workflow", p.operation}, {"phase", p.phase}};
    gauge(e, "pgmoneta_progress_done", "Bytes done by the running operation", labels, p.done);
    if (p.total > 0) {
      // pgmoneta's pgmoneta_progress_total: a gauge may not end in "_total" (promtool).
      gauge(e, "pgmoneta_progress_size", "Bytes the running operation will process", labels,
            p.total);
      gauge(e, "pgmoneta_progress_percentage", "Percentage done of the running operation (0-100)",
            labels, 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total));
    }
    if (p.started_epoch_ms > 0 && s.now_epoch * 1000 >= p.started_epoch_ms) {
      gauge(e, "pgmoneta_progress_elapsed_time", "Seconds since the running operation started",
            labels, static_cast<double>(s.now_epoch * 1000 - p.started_epoch_ms) / 1000.0);
    }
  }

  // Proven restore (ours).
  if (srv.proven_restore_ok >= 0) {
    gauge(e, "pgmoneta_proven_restore_success",
          "1 when the last proven restore of the server succeeded, 0 when it failed", name,
          srv.proven_restore_ok == 1);
    if (srv.proven_restore_epoch > 0) {
      gauge(e, "pgmoneta_proven_restore_timestamp_seconds",
            "When the last proven restore ended, in seconds since the Unix epoch", name,
            srv.proven_restore_epoch);
    }
    gauge(e, "pgmoneta_proven_restore_duration_seconds",
          "How long the last proven restore took, in seconds", name,
          static_cast<double>(srv.proven_restore_ms) / 1000.0);
    if (!srv.proven_restore_label.empty()) {
      gauge(e, "pgmoneta_proven_restore_label",
            "The backup the last proven restore used (always 1; the backup is a label)",
            {{"name", srv.name}, {"label", srv.proven_restore_label}}, 1);
    }
  }
}

void render_backups(Exposition& e, const MetricsSnapshot& s, const ServerMetrics& srv) {
  for (const BackupSnapshot& b : srv.backups) {
    const Labels labels{{"name", srv.name}, {"label", b.label}};
    gauge(e, "pgmoneta_backup", "A backup of the server: 1 valid, 0 invalid or incomplete", labels,
          b.valid);
    if (!b.info_readable) {
      continue;
    }
    gauge(e, "pgmoneta_backup_size", "Bytes the backup occupies in the repository", labels,
          b.backup_size);
    gauge(e, "pgmoneta_restore_size", "Bytes the backup occupies once restored", labels,
          b.restore_size);
    if (b.restore_size > 0) {
      gauge(e, "pgmoneta_backup_compression_ratio",
            "Backup size divided by restore size (lower is better)", labels,
            static_cast<double>(b.backup_size) / static_cast<double>(b.restore_size));
    }
    if (b.elapsed_seconds > 0) {
      gauge(e, "pgmoneta_backup_throughput",
            "Restore size of the backup divided by its duration, in MiB/s (pgmoneta's MB/s)",
            labels, static_cast<double>(b.restore_size) / kMiB / b.elapsed_seconds);
    }
    gauge(e, "pgmoneta_backup_retain", "1 when the backup is retained (keep), else 0", labels,
          b.keep);
    gauge(e, "pgmoneta_backup_version",
          "The PostgreSQL version of the backup (always 1; the version is in the labels)",
          {{"name", srv.name},
           {"label", b.label},
           {"major", std::to_string(b.major_version)},
           {"minor", std::to_string(b.minor_version)}},
          1);
    gauge(e, "pgmoneta_backup_start_timeline", "The timeline at the start of the backup", labels,
          b.start_timeline);
    gauge(e, "pgmoneta_backup_end_timeline", "The timeline at the end of the backup", labels,
          b.end_timeline);
    gauge(e, "pgmoneta_backup_start_walpos",
          "The WAL position the backup starts at (always 1; the LSN is a label)",
          {{"name", srv.name}, {"label", b.label}, {"walpos", format_lsn(b.start_lsn)}}, 1);
    gauge(e, "pgmoneta_backup_end_walpos",
          "The WAL position the backup ends at (always 1; the LSN is a label)",
          {{"name", srv.name}, {"label", b.label}, {"walpos", format_lsn(b.end_lsn)}}, 1);
    gauge(e, "pgmoneta_backup_checkpoint_walpos",
          "The checkpoint WAL position of the backup (always 1; the LSN is a label)",
          {{"name", srv.name}, {"label", b.label}, {"walpos", format_lsn(b.checkpoint_lsn)}}, 1);
    gauge(e, "pgmoneta_backup_total_elapsed_time", "Seconds the backup took", labels,
          b.elapsed_seconds);
    gauge(e, "pgmoneta_backup_info",
          "How the backup is stored (always 1; type, compression and encryption are labels)",
          {{"name", srv.name},
           {"label", b.label},
           {"type", b.incremental ? "incremental" : "full"},
           {"compression", b.compression},
           {"encryption", b.encryption}},
          1);
    if (b.proven_restore) {
      gauge(e, "pgmoneta_backup_proven_restore",
            "1 when a proven restore of the backup succeeded, 0 when it failed", labels,
            *b.proven_restore);
    }
    for (const std::string& engine : b.remote) {
      gauge(e, "pgmoneta_backup_remote",
            "A complete copy of the backup on a remote engine (always 1; the engine is a label)",
            {{"name", srv.name}, {"label", b.label}, {"engine", engine}}, 1);
    }
  }

  // Off-site copies (ours).
  for (const OffsiteSnapshot& o : srv.offsite) {
    const Labels labels{{"name", srv.name}, {"engine", o.engine}};
    gauge(e, "pgmoneta_offsite_failures",
          "Consecutive failed attempts to copy to the remote engine (0 after a success)", labels,
          o.failures);
    gauge(e, "pgmoneta_offsite_pending_backups",
          "Valid local backups the remote engine has no complete copy of yet", labels,
          o.pending_backups);
  }

  // Per server summary over the valid backups.
  const BackupSnapshot* oldest = nullptr;
  const BackupSnapshot* newest = nullptr;
  uint64_t valid = 0;
  uint64_t invalid = 0;
  uint64_t total_size = 0;
  for (const BackupSnapshot& b : srv.backups) {
    total_size += b.backup_size;
    if (!b.valid) {
      ++invalid;
      continue;
    }
    ++valid;
    if (oldest == nullptr || b.label < oldest->label) {
      oldest = &b;
    }
    if (newest == nullptr || b.label > newest->label) {
      newest = &b;
    }
  }
  const Labels name{{"name", srv.name}};
  gauge(e, "pgmoneta_backup_valid", "The number of valid backups of the server", name, valid);
  gauge(e, "pgmoneta_backup_invalid", "The number of invalid or incomplete backups", name, invalid);
  gauge(e, "pgmoneta_backup_total_size", "Bytes of all backups of the server", name, total_size);
  if (oldest != nullptr) {
    gauge(e, "pgmoneta_backup_oldest",
          "The label (YYYYMMDDHHMMSS, local time) of the oldest valid backup, as a number", name,
          label_number(oldest->label));
  }
  if (newest != nullptr) {
    gauge(e, "pgmoneta_backup_newest",
          "The label (YYYYMMDDHHMMSS, local time) of the newest valid backup, as a number", name,
          label_number(newest->label));
    gauge(e, "pgmoneta_backup_newest_size", "Bytes of the newest valid backup", name,
          newest->backup_size);
    gauge(e, "pgmoneta_restore_newest_size", "Restore size in bytes of the newest valid backup",
          name, newest->restore_size);
    if (newest->start_epoch > 0) {
      auto end = static_cast<double>(newest->start_epoch) + newest->elapsed_seconds;
      gauge(e, "pgmoneta_backup_newest_timestamp_seconds",
            "When the newest valid backup ended, in seconds since the Unix epoch", name, end);
      if (static_cast<double>(s.now_epoch) >= end) {
        gauge(e, "pgmoneta_backup_newest_age_seconds",
              "Seconds since the newest valid backup ended", name,
              static_cast<double>(s.now_epoch) - end);
      }
    }
  }
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_prometheus(const MetricsSnapshot& snapshot) {
  Exposition e;
  render_global(e, snapshot);
  for (const ServerMetrics& srv : snapshot.servers) {
    render_server(e, snapshot, srv);
  }
  for (const ServerMetrics& srv : snapshot.servers) {
    render_backups(e, snapshot, srv);
  }
  return e.text();
}

}  // namespace pgm::metrics
