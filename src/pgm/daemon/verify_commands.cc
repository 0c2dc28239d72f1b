#include "pgm/daemon/verify_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/daemon/command_support.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"
#include "pgm/restore/proven.h"
#include "pgm/restore/verify.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

// Publishes a verification's progress in the shared state; idle again on every path.
class ProgressScope {
 public:
  explicit ProgressScope(ServerState& state) : state_(state) {
    state_.progress_done.store(0);
    state_.progress_total.store(0);
    state_.progress_started_ms.store(wall_clock_ms());
    state_.progress_operation.store(kProgressOperationVerify);
    state_.progress_phase.store(kProgressPhaseVerify);
  }
  ~ProgressScope() {
    state_.progress_phase.store(0);
    state_.progress_operation.store(0);
  }
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

  std::function<void(uint64_t, uint64_t)> callback() {
    return [this](uint64_t done, uint64_t total) {
      state_.progress_done.store(done);
      state_.progress_total.store(total);
    };
  }

 private:
  ServerState& state_;
};

Result<restore::VerifyReport> verify_entry(const DaemonContext& ctx, const config::ServerConfig& s,
                                           ServerState& state, const backup::BackupEntry& entry,
                                           bool keep_all) {
  ProgressScope progress(state);
  restore::VerifyOptions o;
  o.backup_dir = entry.dir;
  o.info = *entry.info;
  o.key = ctx.master_key.get();
  o.workers = workers_for(*ctx.config, s);
  o.keep_all = keep_all;
  o.on_progress = progress.callback();
  return restore::verify_backup(o);
}

json file_json(const restore::VerifyFile& f) {
  size_t slash = f.path.rfind('/');
  json j;
  j["Directory"] = slash == std::string::npos ? std::string() : f.path.substr(0, slash);
  j["FileName"] = slash == std::string::npos ? f.path : f.path.substr(slash + 1);
  j["HashAlgorithm"] = "SHA512";
  j["Original"] = f.expected;
  j["Calculated"] = f.calculated;
  j["Problem"] = f.problem;
  return j;
}

std::string describe(const restore::VerifyFile& f) { return f.path + ": " + f.problem; }

// The request key of `verify ... --start` (ours).
constexpr const char* kStartKey = mgmt::key::kStart;

bool start_requested(const json& request) {
  auto it = request.find(kStartKey);
  return it != request.end() && it->is_boolean() && it->get<bool>();
}

std::string workspace_of(const config::Config& c, const config::ServerConfig& s) {
  return s.workspace.empty() ? c.workspace : s.workspace;
}

// Proves one backup (restore/proven.h) and records the outcome in its backup.info and in the
// shared state. An error says nothing about the backup (no binary, no workspace); it is not
// recorded. The caller holds the repository lock.
Result<restore::ProvenResult> prove_entry(const DaemonContext& ctx, const config::ServerConfig& s,
                                          ServerState& state, const backup::BackupEntry& entry,
                                          const std::string& workspace) {
  restore::ProvenOptions o;
  o.server = s.name;
  o.backup_dir = entry.dir;
  o.info = *entry.info;
  o.workspace = workspace;
  o.key = ctx.master_key.get();
  o.workers = workers_for(*ctx.config, s);
  o.users = {s.user};
  log::info("proven restore of backup {} of server {} started in {}", entry.label, s.name,
            workspace);
  PGM_ASSIGN_OR_RETURN(restore::ProvenResult r, restore::prove_restore(o));
  auto now = std::chrono::system_clock::now();
  state.proven_restore_ok.store(r.ok ? 1 : 0);
  state.proven_restore_time.store(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  state.proven_restore_ms.store(static_cast<uint64_t>(r.total_elapsed.count() * 1000.0));
  state.proven_restore_label.store(std::strtoll(entry.label.c_str(), nullptr, 10));
  auto info = backup::read_backup_info(entry.dir);
  if (!info) {
    return make_error(info.error().code(),
                      fmt::format("record the outcome in backup.info: {}", info.error().message()));
  }
  restore::set_proven_keys(*info, r, now);
  if (auto w = backup::write_backup_info(entry.dir, *info); !w) {
    return make_error(w.error().code(),
                      fmt::format("record the outcome in backup.info: {}", w.error().message()));
  }
  return r;
}

void add_proven_json(json& r, const restore::ProvenResult& p) {
  r["ProvenRestore"] = p.ok;
  r["ProvenRestoreReason"] = p.reason;
  r["ProvenRestoreElapsed"] = p.total_elapsed.count();
  r["ProvenRestoreRestoreElapsed"] = p.restore_elapsed.count();
  r["ProvenRestoreStartElapsed"] = p.start_elapsed.count();
  r["ProvenRestoreCheckElapsed"] = p.check_elapsed.count();
  r["ProvenRestoreDatabases"] = p.databases;
  r["ProvenRestoreTables"] = p.tables;
  r["ProvenRestoreIndexes"] = p.indexes;
  r["ProvenRestoreAmcheck"] = p.amcheck;
  r["ProvenRestoreVersion"] = p.pg_version;
}

}  // namespace

CommandResult verify_command(const DaemonContext& ctx, const json& request) {
  constexpr const char* kWorkflow = "verify";
  std::string server = string_arg(request, mgmt::key::kServer);
  int index = ctx.server_index(server);
  if (index < 0) {
    return CommandResult::failure(mgmt::kErrorVerifyNoServer,
                                  fmt::format("unknown server '{}'", server), kWorkflow);
  }
  const config::ServerConfig& s = ctx.config->servers[static_cast<size_t>(index)];
  ServerState& state = ctx.shared->servers[static_cast<size_t>(index)];
  std::string files = string_arg(request, mgmt::key::kFiles);
  if (files.empty()) {
    files = "failed";
  }
  if (files != "failed" && files != "all") {
    return CommandResult::failure(mgmt::kErrorVerifySetup,
                                  fmt::format("unknown file filter '{}': failed or all", files),
                                  kWorkflow);
  }
  RepositoryLock lock(state);
  if (!lock.locked()) {
    return CommandResult::failure(
        mgmt::kErrorVerifyActive,
        fmt::format("server {}: a backup or another repository operation is running (pid {})",
                    s.name, state.repository_owner()),
        kWorkflow);
  }
  auto entries = backup::list_backups(backup::backup_root(ctx.config->base_dir, s.name));
  if (!entries) {
    return CommandResult::failure(mgmt::kErrorVerifyError, entries.error().message(), kWorkflow);
  }
  auto found = backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), s.name);
  if (!found) {
    return CommandResult::failure(mgmt::kErrorVerifySetup, found.error().message(), kWorkflow);
  }
  const backup::BackupEntry& entry = **found;
  if (!entry.info) {
    return CommandResult::failure(
        mgmt::kErrorVerifySetup,
        fmt::format("backup {} of server {}: {}", entry.label, s.name, entry.problem), kWorkflow);
  }
  log::info("verify of backup {} of server {} started", entry.label, s.name);
  auto report = verify_entry(ctx, s, state, entry, files == "all");
  if (!report) {
    log::error("verify of backup {} of server {}: {}", entry.label, s.name,
               report.error().message());
    return CommandResult::failure(mgmt::kErrorVerifyError,
                                  fmt::format("verify of backup {} of server {}: {}", entry.label,
                                              s.name, report.error().message()),
                                  kWorkflow);
  }
  json r;
  r["Server"] = s.name;
  r["Backup"] = entry.label;
  // pgmoneta restores into Directory and verifies there; we verify the stored files in place
  // and only echo it.
  r["Directory"] = string_arg(request, mgmt::key::kDirectory);
  r["Files"] = report->files;
  r["Bytes"] = report->bytes;
  r["Valid"] = report->ok();
  json failed = json::array();
  for (const restore::VerifyFile& f : report->failed) {
    failed.push_back(file_json(f));
  }
  r["Failed"] = std::move(failed);
  if (files == "all") {
    json all = json::array();
    for (const restore::VerifyFile& f : report->all) {
      all.push_back(file_json(f));
    }
    r["All"] = std::move(all);
  }
  if (report->ok()) {
    log::info("verify of backup {} of server {}: {} files, {} bytes, ok", entry.label, s.name,
              report->files, report->bytes);
    if (!start_requested(request)) {
      return CommandResult::success(std::move(r));
    }
    std::string directory = string_arg(request, mgmt::key::kDirectory);
    std::string workspace =
        !directory.empty() && directory.front() == '/' ? directory : workspace_of(*ctx.config, s);
    auto proven = prove_entry(ctx, s, state, entry, workspace);
    if (!proven) {
      log::error("proven restore of backup {} of server {}: {}", entry.label, s.name,
                 proven.error().message());
      CommandResult result =
          CommandResult::failure(mgmt::kErrorVerifyError,
                                 fmt::format("proven restore of backup {} of server {}: {}",
                                             entry.label, s.name, proven.error().message()),
                                 kWorkflow);
      result.response = std::move(r);
      return result;
    }
    add_proven_json(r, *proven);
    if (proven->ok) {
      log::info(
          "proven restore of backup {} of server {}: ok in {:.2f} s ({} databases, {} tables, "
          "{} indexes checked)",
          entry.label, s.name, proven->total_elapsed.count(), proven->databases, proven->tables,
          proven->indexes);
      return CommandResult::success(std::move(r));
    }
    // The client gets the reason; the log keeps it once, below ERROR (not a daemon fault).
    log::warn("proven restore of backup {} of server {} failed: {}", entry.label, s.name,
              proven->reason);
    CommandResult result =
        CommandResult::failure(mgmt::kErrorVerifyExecute,
                               fmt::format("backup {} of server {}: proven restore failed: {}",
                                           entry.label, s.name, proven->reason),
                               kWorkflow);
    result.response = std::move(r);
    return result;
  }
  // The client gets the failures; the log keeps a summary only.
  log::warn("verify of backup {} of server {}: {} file(s) failed, first {}", entry.label, s.name,
            report->failed.size(), describe(report->failed.front()));
  CommandResult result = CommandResult::failure(
      mgmt::kErrorVerifyExecute,
      fmt::format("backup {} of server {}: {} file(s) failed verification, first {}", entry.label,
                  s.name, report->failed.size(), describe(report->failed.front())),
      kWorkflow);
  result.response = std::move(r);
  return result;
}

void run_verification(const DaemonContext& ctx) {
  const config::Config& c = *ctx.config;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const config::ServerConfig& s = c.servers[i];
    ServerState& state = ctx.shared->servers[i];
    RepositoryLock lock(state);
    if (!lock.locked()) {
      log::debug("verification: server {} is busy, skipped this time", s.name);
      continue;
    }
    auto entries = backup::list_backups(backup::backup_root(c.base_dir, s.name));
    if (!entries) {
      log::error("verification: server {}: {}", s.name, entries.error().message());
      continue;
    }
    bool prove = s.verification_start.value_or(c.verification_start);
    bool newest = true;
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
      if (!it->valid()) {
        continue;
      }
      bool prove_this = prove && newest;
      newest = false;
      auto report = verify_entry(ctx, s, state, *it, false);
      if (!report) {
        log::error("verification: backup {} of server {}: {}", it->label, s.name,
                   report.error().message());
        continue;
      }
      if (report->ok()) {
        log::info("verification: backup {} of server {}: {} files, {} bytes, ok", it->label, s.name,
                  report->files, report->bytes);
        if (!prove_this) {
          continue;
        }
        auto proven = prove_entry(ctx, s, state, *it, workspace_of(c, s));
        if (!proven) {
          log::error("verification: proven restore of backup {} of server {}: {}", it->label,
                     s.name, proven.error().message());
        } else if (proven->ok) {
          log::info("verification: proven restore of backup {} of server {}: ok in {:.2f} s",
                    it->label, s.name, proven->total_elapsed.count());
        } else {
          log::error("verification: proven restore of backup {} of server {} failed: {}", it->label,
                     s.name, proven->reason);
        }
        continue;
      }
      for (const restore::VerifyFile& f : report->failed) {
        log::error("verification: backup {} of server {}: {}", it->label, s.name, describe(f));
      }
    }
  }
}

}  // namespace pgm::daemon
