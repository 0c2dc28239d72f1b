#include "pgm/daemon/metrics_collect.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "pgm/backup/info.h"
#include "pgm/backup/repository.h"
#include "pgm/config/spellings.h"
#include "pgm/daemon/commands/hot_standby.h"
#include "pgm/daemon/continuity.h"
#include "pgm/io/file.h"
#include "pgm/log/level.h"
#include "pgm/storage/configured.h"
#include "pgm/version.h"

namespace pgm::daemon {

namespace {

namespace fs = std::filesystem;

std::optional<metrics::SpaceSnapshot> filesystem_space(const std::string& path) {
  auto space = io::filesystem_space(path);
  if (!space) {
    return std::nullopt;
  }
  return metrics::SpaceSnapshot{space->free, space->total};
}

// Bytes of the regular files directly in <base_dir>/<server>/wal (one readdir, one stat per
// file). 0 when the directory does not exist yet.
uint64_t wal_size(const std::string& base_dir, const std::string& server) {
  std::error_code ec;
  uint64_t total = 0;
  fs::directory_iterator it(fs::path(base_dir) / server / "wal", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec) && !it->is_symlink(fec)) {
      uint64_t size = it->file_size(fec);
      if (!fec) {
        total += size;
      }
    }
  }
  return total;
}

// The copies' bytes and their file systems' space, summed over the copies that exist.
void collect_hot_standby(const config::ServerConfig& sc, metrics::ServerMetrics& m) {
  m.hot_standby_size = hot_standby_size(sc);
  for (const std::string& copy : hot_standby_copies(sc)) {
    std::error_code ec;
    if (!fs::is_directory(copy, ec)) {
      continue;
    }
    if (auto space = filesystem_space(copy)) {
      m.hot_standby_space.free += space->free;
      m.hot_standby_space.total += space->total;
    }
  }
}

metrics::RetentionSnapshot retention_of(const config::Retention& r) {
  return {r.days, r.weeks, r.months, r.years};
}

std::vector<metrics::BackupSnapshot> collect_backups(const std::string& base_dir,
                                                     const std::string& server) {
  std::vector<metrics::BackupSnapshot> out;
  auto entries = backup::list_backups(backup::backup_root(base_dir, server));
  if (!entries) {
    return out;  // root unreadable: no backups to report
  }
  for (const backup::BackupEntry& e : *entries) {
    metrics::BackupSnapshot b;
    if (e.info) {
      b = metrics::backup_from_info(*e.info);
    } else {
      std::error_code ec;
      if (!fs::exists(e.dir, ec)) {
        continue;  // deleted while we were listing
      }
    }
    b.label = e.label;
    auto start = backup::label_time(e.label);
    if (start) {
      b.start_epoch =
          std::chrono::duration_cast<std::chrono::seconds>(start->time_since_epoch()).count();
    }
    out.push_back(std::move(b));
  }
  return out;
}

metrics::ServerMetrics collect_server(const DaemonContext& ctx, size_t i) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& sc = c.servers[i];
  metrics::ServerMetrics m;
  m.name = sc.name;
  m.workers = sc.workers >= 0 ? sc.workers : c.workers;
  m.retention = retention_of(config::effective_retention(c, sc));
  m.workspace_space = filesystem_space(sc.workspace.empty() ? c.workspace : sc.workspace);
  m.wal_total_size = wal_size(c.base_dir, sc.name);
  m.backups = collect_backups(c.base_dir, sc.name);
  collect_hot_standby(sc, m);

  if (ctx.shared == nullptr || i >= ctx.shared->number_of_servers || i >= kMaxServers) {
    return m;
  }
  const ServerState& state = ctx.shared->servers[i];
  ServerSnapshot snap = state.snapshot();
  m.probed = snap.probed;
  m.online = snap.online;
  if (!snap.online) {
    // As `status` words it.
    m.offline_reason = snap.admin_offline ? "set offline by the administrator"
                       : snap.probed      ? snap.reason
                                          : "not probed yet";
  }
  m.valid = !state.wal_invalid.load();
  m.primary = snap.primary;
  m.checksums = snap.checksums;
  m.summarize_wal = snap.summarize_wal;
  m.major_version = snap.major_version;
  m.minor_version = snap.minor_version;

  WalSnapshot w = state.wal_snapshot();
  m.wal_streaming = w.streaming;
  m.timeline = w.timeline;
  m.wal_received_lsn = w.received;
  m.wal_flushed_lsn = w.flushed;
  m.server_end_lsn = w.server_end;
  m.wal_unfinished_segments = w.unfinished;
  m.current_wal_file = w.current_file;
  m.wal_last_error = w.last_error;
  ContinuitySnapshot cont = state.continuity_snapshot();
  m.wal_checked = cont.checked_epoch != 0;
  m.wal_gap = cont.gap;
  m.wal_first_missing_segment = cont.first_missing;
  m.wal_gap_problem = cont.problem;
  m.rpo_seconds = rpo_seconds(cont, w.flushed, unix_micros_now());

  m.active_backup = state.active(activity::Activity::kBackup);
  m.active_restore = state.active(activity::Activity::kRestore);
  m.active_archive = state.active(activity::Activity::kArchive);
  m.active_delete = state.active(activity::Activity::kDelete);
  m.active_retention = state.active(activity::Activity::kRetention);
  activity::Progress progress = state.progress();
  if (progress.phase != activity::Phase::kIdle) {
    metrics::ProgressSnapshot p;
    p.operation = activity::operation_name(progress.operation);
    p.phase = activity::phase_name(progress.phase);
    p.done = progress.done;
    p.total = progress.total;
    p.started_epoch_ms = progress.started_ms;
    m.progress = p;
  }

  m.operation_count = state.operation_count.load();
  m.failed_operation_count = state.failed_operation_count.load();
  for (storage::Engine engine : storage::remote_engines(c)) {
    metrics::OffsiteSnapshot o;
    o.engine = storage::engine_name(engine);
    o.failures = state.offsite_failures[static_cast<size_t>(engine)].load();
    for (const metrics::BackupSnapshot& b : m.backups) {
      if (b.valid && std::find(b.remote.begin(), b.remote.end(), o.engine) == b.remote.end()) {
        ++o.pending_backups;
      }
    }
    m.offsite.push_back(std::move(o));
  }
  m.hot_standby_ok = state.hot_standby_ok.load();
  m.hot_standby_epoch = state.hot_standby_time.load();
  m.hot_standby_failures = state.hot_standby_failures.load();
  m.proven_restore_ok = state.proven_restore_ok.load();
  m.proven_restore_epoch = state.proven_restore_time.load();
  m.proven_restore_ms = state.proven_restore_ms.load();
  int64_t label = state.proven_restore_label.load();
  if (label != 0) {
    m.proven_restore_label = std::to_string(label);
  }
  return m;
}

}  // namespace

metrics::MetricsSnapshot collect_metrics(const DaemonContext& ctx,
                                         const metrics::MetricsCounters* counters) {
  auto started = std::chrono::steady_clock::now();
  const config::Config& c = *ctx.config;
  metrics::MetricsSnapshot s;
  s.version = kVersion;
  s.now_epoch = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (ctx.shared != nullptr) {
    s.start_epoch = ctx.shared->start_epoch.load();
    s.running = !ctx.shared->shutting_down.load();
    // Lines counted by every process of the daemon (log::count_lines_in), by level value.
    auto lines = [&](log::Level level) {
      return ctx.shared->log_lines[static_cast<size_t>(level)].load(std::memory_order_relaxed);
    };
    s.logging_info = lines(log::Level::kInfo);
    s.logging_warn = lines(log::Level::kWarn);
    s.logging_error = lines(log::Level::kError);
    s.logging_fatal = lines(log::Level::kFatal);
  }
  s.compression_type = c.compression.type_byte();
  s.compression = config::format_compression(c.compression);
  s.encryption = config::format_encryption(c.encryption);
  s.retention = retention_of(c.retention);
  s.base_dir_space = filesystem_space(c.base_dir);
  if (counters != nullptr) {
    s.scrapes_total = counters->scrapes.load(std::memory_order_relaxed);
    s.counters_reset_epoch = counters->reset_epoch.load(std::memory_order_relaxed);
  }

  uint64_t used = 0;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    metrics::ServerMetrics m = collect_server(ctx, i);
    for (const metrics::BackupSnapshot& b : m.backups) {
      used += b.backup_size;
    }
    used += m.wal_total_size.value_or(0);
    s.servers.push_back(std::move(m));
  }
  s.used_space = used;
  s.collect_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return s;
}

}  // namespace pgm::daemon
