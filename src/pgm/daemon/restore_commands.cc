#include "pgm/daemon/restore_commands.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/repository.h"
#include "pgm/daemon/command_support.h"
#include "pgm/daemon/process_title.h"
#include "pgm/daemon/wal_receiver.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/restore/position.h"
#include "pgm/restore/recovery.h"
#include "pgm/restore/restore.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

constexpr int kOperationRestore = 1;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes the recovery settings of `plan` into a restored data directory: postgresql.auto.conf
// rewritten (older recovery lines commented out, a generated block appended), the same
// recovery keys commented out of postgresql.conf, and exactly the planned signal file.
Result<void> write_recovery(const std::string& dir, const restore::RecoveryPlan& plan,
                            const std::string& header) {
  std::string auto_conf = dir + "/postgresql.auto.conf";
  std::string existing;
  if (auto text = io::read_file(auto_conf); text) {
    existing = std::move(*text);
  } else if (text.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(text.error());
  }
  std::string rewritten = restore::rewrite_auto_conf(existing, plan, header);
  if (rewritten != existing || !exists(auto_conf)) {
    PGM_TRY(io::write_file_atomic(auto_conf, rewritten, 0600));
  }
  std::string conf = dir + "/postgresql.conf";
  if (auto text = io::read_file(conf); text) {
    std::vector<std::string> keys = restore::keys_to_disable(plan);
    std::string changed = restore::comment_out_settings(*text, keys);
    if (changed != *text) {
      PGM_TRY(io::write_file_atomic(conf, changed, 0600));
    }
  }
  for (const char* name : {"recovery.signal", "standby.signal"}) {
    std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return make_errno_error(fmt::format("remove {}", path), errno);
    }
  }
  if (plan.signal != restore::SignalFile::kNone) {
    std::string name =
        plan.signal == restore::SignalFile::kRecovery ? "recovery.signal" : "standby.signal";
    PGM_TRY(io::write_file_atomic(dir + "/" + name, "", 0600));
  }
  return {};
}

std::string local_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

CommandResult restore_command(const DaemonContext& ctx, const json& request) {
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::kErrorRestoreNoServer, unknown_server(request), "restore");
  }
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = *l.server;
  ServerState& state = ctx.shared->servers[static_cast<size_t>(l.index)];

  auto position = restore::parse_position(string_arg(request, mgmt::key::kPosition));
  if (!position) {
    return CommandResult::failure(mgmt::kErrorRestoreNoBackup, position.error().message(),
                                  "restore");
  }
  std::string directory = string_arg(request, mgmt::key::kDirectory);
  if (directory.empty() || directory.front() != '/') {
    return CommandResult::failure(
        mgmt::kErrorRestoreSetup,
        fmt::format("restore directory '{}' must be an absolute path", directory), "restore");
  }
  while (directory.size() > 1 && directory.back() == '/') {
    directory.pop_back();
  }

  RepositoryLock lock(state);
  if (!lock.locked()) {
    return CommandResult::failure(
        mgmt::kErrorRestoreActive,
        fmt::format("server {}: a backup or another repository operation is running (pid {})",
                    s.name, state.repository_owner()),
        "restore");
  }
  std::string root = backup::backup_root(c.base_dir, s.name);
  auto entries = backup::list_backups(root);
  if (!entries) {
    return CommandResult::failure(mgmt::kErrorRestoreError, entries.error().message(), "restore");
  }
  auto found =
      restore::select_backup(*entries, string_arg(request, mgmt::key::kBackup), *position, s.name);
  if (!found) {
    return CommandResult::failure(mgmt::kErrorRestoreNoBackup, found.error().message(), "restore");
  }
  const backup::BackupEntry& entry = **found;
  if (!entry.valid()) {
    return CommandResult::failure(
        mgmt::kErrorRestoreNoBackup,
        fmt::format("backup {} of server {} is not valid ({}): it cannot be restored", entry.label,
                    s.name, entry.info ? std::string("STATUS=0") : entry.problem),
        "restore");
  }
  if (entry.info->encryption != 0 && !ctx.master_key) {
    return CommandResult::failure(
        mgmt::kErrorRestoreSetup,
        fmt::format("backup {} is encrypted but the daemon has no master key", entry.label),
        "restore");
  }

  restore::ReplicaSource source;
  source.host = s.host;
  source.port = s.port;
  source.user = s.user;
  source.application_name = fmt::format("pgmoneta_{}_{}", s.name, entry.label);
  restore::RecoveryPlan plan = restore::plan_recovery(*position, source);
  std::string header = fmt::format("restore of backup {} of server {} at {}", entry.label, s.name,
                                   local_timestamp());

  restore::RestoreOptions o;
  o.backup_dir = entry.dir;
  o.info = *entry.info;
  o.target_dir = fmt::format("{}/{}-{}", directory, s.name, entry.label);
  o.key = ctx.master_key.get();
  o.workers = workers_for(c, s);
  o.copy_wal = position->wants_wal();
  o.wal_dir = wal_directory(c, s);
  uint64_t seg_size = state.snapshot().wal_segment_size;
  o.wal_segment_size = seg_size != 0 ? seg_size : 16u << 20;
  o.configure = [&plan, &header](const std::string& dir) {
    return write_recovery(dir, plan, header);
  };
  bool progress = progress_enabled(c, s);
  state.active_restore.store(true);
  state.progress_operation.store(kOperationRestore);
  state.progress_done.store(0);
  state.progress_total.store(o.info.restore_size);
  state.progress_started_ms.store(wall_clock_ms());
  state.progress_phase.store(2);
  o.on_progress = [&state, progress](uint64_t done, uint64_t total) {
    if (progress) {
      state.progress_done.store(done);
      state.progress_total.store(total);
    }
  };
  set_process_title(c.update_process_title, "restore", s.name);
  log::info("restore of backup {} of server {} into {} started", entry.label, s.name, o.target_dir);
  auto result = restore::run_restore(o);
  state.active_restore.store(false);
  state.progress_phase.store(0);
  state.progress_operation.store(0);
  if (!result) {
    state.failed_operation_count.fetch_add(1);
    log::error("restore of backup {} of server {} failed: {}", entry.label, s.name,
               result.error().message());
    int32_t code = result.error().code() == ErrorCode::kUnavailable ? mgmt::kErrorRestoreNoDisk
                                                                    : mgmt::kErrorRestoreExecute;
    return CommandResult::failure(
        code,
        fmt::format("restore of backup {} of server {} failed: {} (nothing was left in {})",
                    entry.label, s.name, result.error().message(), directory),
        "restore");
  }
  state.operation_count.fetch_add(1);
  log::info(
      "restore of backup {} of server {} into {} done: {} files, {} bytes, {} WAL files, "
      "{:.2f} s",
      entry.label, s.name, o.target_dir, result->files, result->bytes, result->wal_files,
      result->elapsed.count());
  json r = backup::list_entry_json(s.name, entry);
  r["Directory"] = o.target_dir;
  r["Position"] = string_arg(request, mgmt::key::kPosition);
  r["RestoredBytes"] = result->bytes;
  r["Files"] = result->files;
  r["WalFiles"] = result->wal_files;
  r["Elapsed"] = result->elapsed.count();
  r["MajorVersion"] = entry.info->major_version;
  r["MinorVersion"] = entry.info->minor_version;
  json tablespaces = json::array();
  for (const std::string& t : result->tablespace_dirs) {
    tablespaces.push_back(t);
  }
  r["TablespaceDirectories"] = tablespaces;
  return CommandResult::success(r);
}

}  // namespace pgm::daemon
