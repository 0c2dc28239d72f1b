#include "pgm/restore/verification_job.h"

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "pgm/log/log.h"

namespace pgm::restore {

Result<VerifyReport> verify_stored_backup(const config::Config& config,
                                          const VerificationServer& target,
                                          const crypto::MasterKey* key,
                                          const backup::BackupEntry& entry, bool keep_all) {
  activity::ActivityGuard guard(*target.state, activity::Operation::kVerify,
                                activity::Phase::kVerifying);
  VerifyOptions o;
  o.backup_dir = entry.dir;
  o.info = *entry.info;
  o.key = key;
  o.workers = config::workers_for(config, *target.server);
  o.keep_all = keep_all;
  o.scratch_dir = workspace_of(config, *target.server);
  o.on_progress = [&guard](uint64_t done, uint64_t total) { guard.set_progress(done, total); };
  return verify_backup(o);
}

std::string describe(const VerifyFile& f) { return f.path + ": " + f.problem; }

std::string workspace_of(const config::Config& c, const config::ServerConfig& s) {
  return s.workspace.empty() ? c.workspace : s.workspace;
}

Result<ProvenResult> prove_stored_backup(const config::Config& config,
                                         const VerificationServer& target,
                                         const crypto::MasterKey* key,
                                         const backup::BackupEntry& entry,
                                         const std::string& workspace) {
  const config::ServerConfig& s = *target.server;
  activity::RepositoryState& state = *target.state;
  ProvenOptions o;
  o.server = s.name;
  o.backup_dir = entry.dir;
  o.info = *entry.info;
  o.workspace = workspace;
  o.key = key;
  o.workers = config::workers_for(config, s);
  o.users = {s.user};
  log::info("proven restore of backup {} of server {} started in {}", entry.label, s.name,
            workspace);
  PGM_ASSIGN_OR_RETURN(ProvenResult r, prove_restore(o));
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
  set_proven_keys(*info, r, now);
  if (auto w = backup::write_backup_info(entry.dir, *info); !w) {
    return make_error(w.error().code(),
                      fmt::format("record the outcome in backup.info: {}", w.error().message()));
  }
  return r;
}

void run_verification(const config::Config& c, std::span<const VerificationServer> servers,
                      const crypto::MasterKey* key) {
  for (const VerificationServer& target : servers) {
    const config::ServerConfig& s = *target.server;
    activity::RepositoryLock lock(*target.state);
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
      auto report = verify_stored_backup(c, target, key, *it, false);
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
        auto proven = prove_stored_backup(c, target, key, *it, workspace_of(c, s));
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
      for (const VerifyFile& f : report->failed) {
        log::error("verification: backup {} of server {}: {}", it->label, s.name, describe(f));
      }
    }
  }
}

}  // namespace pgm::restore
