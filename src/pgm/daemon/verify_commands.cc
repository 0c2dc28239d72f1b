#include "pgm/daemon/verify_commands.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/daemon/command_support.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"
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
    return CommandResult::success(std::move(r));
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
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
      if (!it->valid()) {
        continue;
      }
      auto report = verify_entry(ctx, s, state, *it, false);
      if (!report) {
        log::error("verification: backup {} of server {}: {}", it->label, s.name,
                   report.error().message());
        continue;
      }
      if (report->ok()) {
        log::info("verification: backup {} of server {}: {} files, {} bytes, ok", it->label, s.name,
                  report->files, report->bytes);
        continue;
      }
      for (const restore::VerifyFile& f : report->failed) {
        log::error("verification: backup {} of server {}: {}", it->label, s.name, describe(f));
      }
    }
  }
}

}  // namespace pgm::daemon
