#include "pgm/daemon/commands/verify.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"
#include "pgm/restore/proven.h"
#include "pgm/restore/verification_job.h"
#include "pgm/restore/verify.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

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

// The request key of `verify ... --start` (ours).
constexpr const char* kStartKey = mgmt::key::kStart;

bool start_requested(const json& request) {
  auto it = request.find(kStartKey);
  return it != request.end() && it->is_boolean() && it->get<bool>();
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

CommandResult commands::verify(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  constexpr const char* kWorkflow = "verify";
  std::string server = string_arg(request, mgmt::key::kServer);
  int index = ctx.server_index(server);
  if (index < 0) {
    return CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kNoServer,
                                  fmt::format("unknown server '{}'", server), kWorkflow);
  }
  const config::ServerConfig& s = ctx.config->servers[static_cast<size_t>(index)];
  ServerState& state = ctx.shared->servers[static_cast<size_t>(index)];
  std::string files = string_arg(request, mgmt::key::kFiles);
  if (files.empty()) {
    files = "failed";
  }
  if (files != "failed" && files != "all") {
    return CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kSetup,
                                  fmt::format("unknown file filter '{}': failed or all", files),
                                  kWorkflow);
  }
  RepositoryLock lock(state);
  if (!lock.locked()) {
    return CommandResult::failure(
        mgmt::Family::kVerify, mgmt::Failure::kActive,
        fmt::format("server {}: a backup or another repository operation is running (pid {})",
                    s.name, state.repository_owner()),
        kWorkflow);
  }
  auto entries = backup::list_backups(backup::backup_root(ctx.config->base_dir, s.name));
  if (!entries) {
    return CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kError,
                                  entries.error().message(), kWorkflow);
  }
  auto found = backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), s.name);
  if (!found) {
    return CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kSetup,
                                  found.error().message(), kWorkflow);
  }
  const backup::BackupEntry& entry = **found;
  if (!entry.info) {
    return CommandResult::failure(
        mgmt::Family::kVerify, mgmt::Failure::kSetup,
        fmt::format("backup {} of server {}: {}", entry.label, s.name, entry.problem), kWorkflow);
  }
  log::info("verify of backup {} of server {} started", entry.label, s.name);
  restore::VerificationServer target{&s, &state};
  auto report = restore::verify_stored_backup(*ctx.config, target, ctx.master_key.get(), entry,
                                              files == "all");
  if (!report) {
    log::error("verify of backup {} of server {}: {}", entry.label, s.name,
               report.error().message());
    return CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kError,
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
  r["MajorVersion"] = entry.info->major_version;
  r["MinorVersion"] = entry.info->minor_version;
  r["NumberOfFiles"] = report->files;
  r["Bytes"] = report->bytes;
  r["Valid"] = report->ok();
  // pgmoneta's shape: Files {Failed: [...], All: [...] (with `all`)}.
  json listed = json::object();
  json failed = json::array();
  for (const restore::VerifyFile& f : report->failed) {
    failed.push_back(file_json(f));
  }
  listed["Failed"] = std::move(failed);
  if (files == "all") {
    json all = json::array();
    for (const restore::VerifyFile& f : report->all) {
      all.push_back(file_json(f));
    }
    listed["All"] = std::move(all);
  }
  r["Files"] = std::move(listed);
  if (report->ok()) {
    log::info("verify of backup {} of server {}: {} files, {} bytes, ok, peak_rss_kb={}",
              entry.label, s.name, report->files, report->bytes, max_rss_kb());
    if (!start_requested(request)) {
      return CommandResult::success(std::move(r));
    }
    std::string directory = string_arg(request, mgmt::key::kDirectory);
    std::string workspace = !directory.empty() && directory.front() == '/'
                                ? directory
                                : restore::workspace_of(*ctx.config, s);
    auto proven =
        restore::prove_stored_backup(*ctx.config, target, ctx.master_key.get(), entry, workspace);
    if (!proven) {
      log::error("proven restore of backup {} of server {}: {}", entry.label, s.name,
                 proven.error().message());
      CommandResult result =
          CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kError,
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
        CommandResult::failure(mgmt::Family::kVerify, mgmt::Failure::kExecute,
                               fmt::format("backup {} of server {}: proven restore failed: {}",
                                           entry.label, s.name, proven->reason),
                               kWorkflow);
    result.response = std::move(r);
    return result;
  }
  // The client gets the failures; the log keeps a summary only.
  log::warn("verify of backup {} of server {}: {} file(s) failed, first {}", entry.label, s.name,
            report->failed.size(), restore::describe(report->failed.front()));
  CommandResult result = CommandResult::failure(
      mgmt::Family::kVerify, mgmt::Failure::kExecute,
      fmt::format("backup {} of server {}: {} file(s) failed verification, first {}", entry.label,
                  s.name, report->failed.size(), restore::describe(report->failed.front())),
      kWorkflow);
  result.response = std::move(r);
  return result;
}

void run_verification(const DaemonContext& ctx) {
  const config::Config& c = *ctx.config;
  std::vector<restore::VerificationServer> servers;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    servers.push_back({&c.servers[i], &ctx.shared->servers[i]});
  }
  restore::run_verification(c, servers, ctx.master_key.get());
}

}  // namespace pgm::daemon
