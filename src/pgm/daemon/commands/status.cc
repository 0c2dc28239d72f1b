// status, status details and mode: what the daemon and its servers are doing.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "pgm/activity/names.h"
#include "pgm/daemon/commands/backup.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/hot_standby.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/daemon/continuity.h"
#include "pgm/daemon/probe.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/protocol.h"
#include "pgm/wal/lsn.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

uint64_t directory_size(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec) && !it->is_symlink(fec)) {
      total += it->file_size(fec);
    }
  }
  return total;
}

namespace {

// Space of base_dir's or a workspace's file system; zeros when it cannot be examined.
io::FilesystemSpace filesystem_space(const std::string& path) {
  return io::filesystem_space(path).value_or(io::FilesystemSpace{});
}

// Labels of the backups of a server: directories under <base_dir>/<server>/backup holding a
// backup.info (the backup issue fills them in).
std::vector<std::string> backup_labels(const std::string& base_dir, const std::string& server) {
  namespace fs = std::filesystem;
  std::vector<std::string> labels;
  std::error_code ec;
  fs::directory_iterator it(fs::path(base_dir) / server / "backup", ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_directory(fec) && fs::exists(it->path() / "backup.info", fec)) {
      labels.push_back(it->path().filename().string());
    }
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

int effective_workers(const config::Config& c, const config::ServerConfig& s) {
  return s.workers >= 0 ? s.workers : c.workers;
}

json server_status(const DaemonContext& ctx, size_t i, bool details) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = c.servers[i];
  const ServerState& state = ctx.shared->servers[i];
  ServerSnapshot snap = state.snapshot();
  std::vector<std::string> labels = backup_labels(c.base_dir, s.name);
  config::Retention retention = config::effective_retention(c, s);
  std::string workspace = s.workspace.empty() ? c.workspace : s.workspace;

  json j;
  j["Server"] = s.name;
  j["Online"] = snap.online;
  // Invalid: the server cannot be streamed from until an operator fixes its setup (slot).
  j["Valid"] = !state.wal_invalid.load();
  j["Primary"] = snap.primary;
  j["Checksums"] = snap.checksums;
  j["MajorVersion"] = snap.major_version;
  j["MinorVersion"] = snap.minor_version;
  j["ActiveBackup"] = state.active(activity::Activity::kBackup);
  j["ActiveRestore"] = state.active(activity::Activity::kRestore);
  j["ActiveArchive"] = state.active(activity::Activity::kArchive);
  j["ActiveDelete"] = state.active(activity::Activity::kDelete);
  j["ActiveRetention"] = state.active(activity::Activity::kRetention);
  // -1: unset (pgmoneta's CLI prints "Unspecified").
  j["RetentionDays"] = retention.days.value_or(-1);
  j["RetentionWeeks"] = retention.weeks.value_or(-1);
  j["RetentionMonths"] = retention.months.value_or(-1);
  j["RetentionYears"] = retention.years.value_or(-1);
  j["ServerSize"] = directory_size(c.base_dir + "/" + s.name);
  j["HotStandbySize"] = hot_standby_size(s);
  j["NumberOfBackups"] = labels.size();
  j["Workers"] = effective_workers(c, s);
  j["WorkspaceFreeSpace"] = filesystem_space(workspace).free;
  if (!snap.online) {
    j["OfflineReason"] = snap.admin_offline ? "set offline by the administrator"
                         : snap.probed      ? snap.reason
                                            : "not probed yet";
  }
  if (details) {
    WalSnapshot w = state.wal_snapshot();
    j["WalStreaming"] = w.streaming;
    j["WalReceiverPid"] = w.pid;
    j["WalTimeline"] = w.timeline;
    j["WalCurrentFile"] = w.current_file;
    j["WalReceivedLsn"] = wal::Lsn(w.received).to_string();
    j["WalFlushedLsn"] = wal::Lsn(w.flushed).to_string();
    j["WalServerLsn"] = wal::Lsn(w.server_end).to_string();
    // Bytes the server has that are not yet durable here.
    j["WalLagBytes"] = w.server_end > w.flushed ? w.server_end - w.flushed : 0;
    j["WalLastError"] = w.last_error;
    j["WalUnfinishedSegments"] = w.unfinished;
    j["WalLevel"] = snap.wal_level;
    // WAL continuity and RPO (ours; continuity.h): null until the first check / when unknown.
    ContinuitySnapshot cont = state.continuity_snapshot();
    j["WalContinuityChecked"] = cont.checked_epoch;
    j["WalGap"] = cont.checked_epoch == 0 ? json(nullptr) : json(cont.gap);
    j["WalFirstMissingSegment"] = cont.first_missing;
    j["WalGapProblem"] = cont.problem;
    std::optional<int64_t> rpo = rpo_seconds(cont, w.flushed, unix_micros_now());
    j["RpoSeconds"] = rpo ? json(*rpo) : json(nullptr);
    // Last proven restore (ours): -1 none yet, 0 failed, 1 ok.
    j["ProvenRestore"] = state.proven_restore_ok.load();
    j["ProvenRestoreTime"] = state.proven_restore_time.load();
    j["ProvenRestoreElapsed"] = static_cast<double>(state.proven_restore_ms.load()) / 1000.0;
    j["ProvenRestoreBackup"] = state.proven_restore_label.load() == 0
                                   ? std::string()
                                   : std::to_string(state.proven_restore_label.load());
    j["Fips"] = false;
    // pgmoneta's entries: each backup's list-backup object (sizes, compression, validity, WAL).
    json backups = json::array();
    if (auto listed = backups_json(ctx, i, backup::SortOrder::kAscending); listed) {
      backups = std::move(*listed);
    } else {
      for (const std::string& label : labels) {
        backups.push_back({{"Backup", label}, {"Server", s.name}});
      }
    }
    j["Backups"] = backups;
  }
  return j;
}

}  // namespace

namespace {

CommandResult status_response(const DaemonContext& ctx, bool details) {
  const config::Config& c = *ctx.config;
  io::FilesystemSpace space = filesystem_space(c.base_dir);
  json r;
  r["FreeSpace"] = space.free;
  r["TotalSpace"] = space.total;
  r["UsedSpace"] = directory_size(c.base_dir);
  r["Workers"] = c.workers;
  r["NumberOfServers"] = c.servers.size();
  r["PgmonetaFips"] = false;
  json servers = json::array();
  for (size_t i = 0; i < c.servers.size(); ++i) {
    servers.push_back(server_status(ctx, i, details));
  }
  r["Servers"] = servers;
  return CommandResult::success(r);
}

CommandResult mode_command(const DaemonContext& ctx, const json& request) {
  std::string server = string_arg(request, "Server");
  std::string action = string_arg(request, "Action");
  int index = ctx.server_index(server);
  if (index < 0) {
    return CommandResult::failure(mgmt::Family::kMode, mgmt::Failure::kNoServer,
                                  fmt::format("unknown server '{}'", server), "mode");
  }
  ServerState& state = ctx.shared->servers[static_cast<size_t>(index)];
  if (action == "offline") {
    state.set_admin_offline(true);
    state.mark_offline("set offline by the administrator");
    log::info("server {} set offline by the administrator", server);
  } else if (action == "online") {
    state.set_admin_offline(false);
    if (!probe_server(ctx, static_cast<size_t>(index))) {
      return CommandResult::failure(
          mgmt::Family::kMode, mgmt::Failure::kError,
          fmt::format("server {} cannot be brought online: {}", server, state.snapshot().reason),
          "mode");
    }
    log::info("server {} set online by the administrator", server);
  } else {
    return CommandResult::failure(
        mgmt::Family::kMode, mgmt::Failure::kUnknownAction,
        fmt::format("unknown mode action '{}': expected online or offline", action), "mode");
  }
  json r = server_status(ctx, static_cast<size_t>(index), false);
  return CommandResult::success(r);
}

}  // namespace

CommandResult commands::status(const Call& call) { return status_response(call.ctx, false); }

CommandResult commands::status_details(const Call& call) { return status_response(call.ctx, true); }

CommandResult commands::mode(const Call& call) { return mode_command(call.ctx, call.request); }

}  // namespace pgm::daemon
