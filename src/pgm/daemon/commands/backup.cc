#include "pgm/daemon/commands/backup.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <sys/resource.h>

#include "pgm/backup/full_backup.h"
#include "pgm/backup/info.h"
#include "pgm/backup/repository.h"
#include "pgm/backup/retention_job.h"
#include "pgm/daemon/commands/backup_json.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/hot_standby.h"
#include "pgm/daemon/commands/offsite.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/daemon/commands/verify.h"
#include "pgm/daemon/probe.h"
#include "pgm/daemon/process_title.h"
#include "pgm/daemon/wal_receiver.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"
#include "pgm/restore/block_map_backfill.h"
#include "pgm/restore/rollup.h"
#include "pgm/storage/configured.h"
#include "pgm/version.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

std::string root_of(const DaemonContext& ctx, const config::ServerConfig& s) {
  return backup::backup_root(ctx.config->base_dir, s.name);
}

// Backup identifier of the request: a label or oldest/newest/latest.
Result<std::vector<backup::BackupEntry>> entries_of(const DaemonContext& ctx,
                                                    const config::ServerConfig& s) {
  return backup::list_backups(root_of(ctx, s));
}

// The backup's list-backup object plus what pgmoneta's backup response adds.
json backup_summary(const std::string& server, const std::string& dir,
                    const backup::BackupInfo& info) {
  backup::BackupEntry entry;
  entry.label = info.label;
  entry.dir = dir;
  entry.info = info;
  json r = list_entry_json(server, entry);
  r["Elapsed"] = info.elapsed.count();
  r["MajorVersion"] = info.major_version;
  r["MinorVersion"] = info.minor_version;
  return r;
}

activity::Phase backup_phase(backup::BackupProgress::Phase phase) {
  switch (phase) {
    case backup::BackupProgress::Phase::kStarting:
      return activity::Phase::kStarting;
    case backup::BackupProgress::Phase::kStreaming:
      return activity::Phase::kStreaming;
    case backup::BackupProgress::Phase::kFinishing:
      return activity::Phase::kFinishing;
  }
  return activity::Phase::kStarting;
}

// A label no directory has yet. The backup creates its directory with an exclusive mkdir
// (full_backup.cc), so it never reuses one, whoever made it.
std::string fresh_label(const std::string& root) {
  for (;;) {
    std::string label = backup::make_label(std::chrono::system_clock::now());
    std::error_code ec;
    if (!std::filesystem::exists(root + "/" + label, ec)) {
      return label;
    }
    // Two backups within one second: labels are seconds, so wait for the next one.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

CommandResult commands::backup(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kBackup, mgmt::Failure::kNoServer,
                                  unknown_server(request), "backup");
  }
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = *l.server;
  ServerState& state = ctx.shared->servers[static_cast<size_t>(l.index)];
  const std::string parent_id = string_arg(request, mgmt::key::kBackup);
  RepositoryLock lock(state);
  if (!lock.locked()) {
    return CommandResult::failure(
        mgmt::Family::kBackup, mgmt::Failure::kActive,
        fmt::format("server {}: another backup or repository operation is running (pid {})", s.name,
                    state.repository_owner()),
        "backup");
  }
  if (!state.online() || state.admin_offline()) {
    ServerSnapshot snap = state.snapshot();
    return CommandResult::failure(mgmt::Family::kBackup, mgmt::Failure::kOffline,
                                  fmt::format("server {} is offline: {}", s.name,
                                              snap.reason.empty() ? "not reachable" : snap.reason),
                                  "backup");
  }
  if (c.encryption != crypto::AesMode::kNone && !ctx.master_key) {
    return CommandResult::failure(
        mgmt::Family::kBackup, mgmt::Failure::kSetup,
        "encryption is configured but there is no master key (pgmoneta-admin master-key)",
        "backup");
  }
  ActivityGuard guard(state, activity::Operation::kBackup, activity::Phase::kStarting,
                      activity::Activity::kBackup);

  std::string root = root_of(ctx, s);
  if (auto made = io::make_directories(root, 0700); !made) {
    return CommandResult::failure(mgmt::Family::kBackup, mgmt::Failure::kSetup,
                                  made.error().message(), "backup");
  }
  backup::remove_leftovers(root, s.name);
  if (auto finished = restore::complete_rollups(root); !finished) {
    log::error("server {}: an interrupted rollup could not be completed: {}", s.name,
               finished.error().message());
  }
  std::string previous;
  if (auto entries = backup::list_backups(root); entries) {
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
      if (it->valid()) {
        previous = it->dir;
        break;
      }
    }
  }

  // An incremental backup: the parent (valid, without a child yet) and its block map.
  std::optional<backup::BackupInfo> parent;
  std::optional<incremental::BlockMap> parent_map;
  std::string parent_dir;
  if (!parent_id.empty()) {
    auto entries = backup::list_backups(root);
    if (!entries) {
      return CommandResult::failure(mgmt::Family::kBackup, mgmt::Failure::kSetup,
                                    entries.error().message(), "backup");
    }
    auto found = backup::resolve_backup(*entries, parent_id, s.name);
    if (!found) {
      return CommandResult::failure(
          mgmt::Family::kBackup, mgmt::Failure::kNoBackup,
          fmt::format("no parent for an incremental backup: {}", found.error().message()),
          "backup");
    }
    const backup::BackupEntry& p = **found;
    if (!p.valid()) {
      return CommandResult::failure(
          mgmt::Family::kBackup, mgmt::Failure::kInvalid,
          fmt::format("backup {} is not valid and cannot be the parent of an incremental backup",
                      p.label),
          "backup");
    }
    for (const backup::BackupEntry& e : *entries) {
      if (e.info && e.info->parent == p.label) {
        return CommandResult::failure(
            mgmt::Family::kBackup, mgmt::Failure::kAlreadyChild,
            fmt::format("backup {} already has an incremental child ({}); a backup has at most one",
                        p.label, e.label),
            "backup");
      }
    }
    auto map = restore::load_or_build_block_map(p.dir, *p.info, ctx.master_key.get());
    if (!map) {
      return CommandResult::failure(mgmt::Family::kIncremental, mgmt::Failure::kSetup,
                                    fmt::format("parent {}: {}", p.label, map.error().message()),
                                    "backup");
    }
    parent = *p.info;
    parent_map = std::move(*map);
    parent_dir = p.dir;
  }

  backup::FullBackupOptions o;
  o.label = fresh_label(root);
  if (parent) {
    o.parent = &*parent;
    o.parent_map = &*parent_map;
    o.parent_dir = parent_dir;
  }
  o.backup_dir = root + "/" + o.label;
  o.previous_dir = previous;
  o.connection = connect_params(ctx, s);
  o.connection.application_name = "pgmoneta_backup";
  o.algorithm = c.compression.algorithm;
  o.server_side = c.compression.server_side;
  o.compression_type = c.compression.type_byte();
  o.level = c.compression_level;
  o.encryption = c.encryption;
  o.key = ctx.master_key.get();
  o.workers = workers_for(c, s);
  o.max_rate = s.max_rate >= 0 ? static_cast<uint64_t>(s.max_rate) : c.max_rate;
  o.version = kVersion;
  o.crc32c_manifest = c.manifest_checksums == config::ManifestChecksums::kCrc32c;
  bool progress = progress_enabled(c, s);
  o.on_progress = [&guard, progress](const backup::BackupProgress& p) {
    guard.set_phase(backup_phase(p.phase));
    if (progress) {
      guard.set_progress(p.done, p.total);
    }
  };
  set_process_title(c.update_process_title, "backup", s.name);
  if (parent) {
    log::info("backup {} of server {} started, incremental from {}", o.label, s.name,
              parent->label);
  } else {
    log::info("backup {} of server {} started", o.label, s.name);
  }

  auto result = backup::run_full_backup(o);
  guard.drop_flag();
  guard.set_phase(activity::Phase::kIdle);
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  if (!result) {
    log::error("backup {} of server {} failed: {}", o.label, s.name, result.error().message());
    state.failed_operation_count.fetch_add(1);
    return CommandResult::failure(
        mgmt::Family::kBackup, mgmt::Failure::kExecute,
        fmt::format("backup of server {} failed: {}", s.name, result.error().message()), "backup");
  }
  state.operation_count.fetch_add(1);
  const backup::BackupInfo& info = result->info;
  auto cpu = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  log::info(
      "backup {} of server {} done: {:.2f} s (stream {:.2f} s, sync {:.2f} s), {} bytes stored, "
      "{} restored, {} files linked ({} bytes), cpu_user={:.2f} cpu_sys={:.2f} peak_rss_kb={}",
      info.label, s.name, info.elapsed.count(), info.basebackup_elapsed.count(),
      result->sync_elapsed.count(), info.backup_size, info.restore_size, result->linked_files,
      result->linked_bytes, cpu(usage.ru_utime), cpu(usage.ru_stime), usage.ru_maxrss);
  if (parent) {
    log::info(
        "backup {} of server {}: incremental from {} ({}), {} INCREMENTAL file(s) with {} "
        "block(s)",
        info.label, s.name, parent->label,
        result->native_incremental ? "PostgreSQL's own, from WAL summaries" : "block delta",
        result->incremental_files, result->changed_blocks);
  }
  json copies = json::array();
  // Off-site copies (still under the repository lock): a failed upload does not fail the
  // backup, which is complete and valid locally; the periodic pass retries it.
  if (!storage::remote_engines(c).empty()) {
    guard.set_phase(activity::Phase::kUploading);
    for (const offsite::OffsiteCopy& copy :
         offsite::copy_backup_offsite(offsite_context(ctx), s, info.label)) {
      copies.push_back({{"Engine", std::string(storage::engine_name(copy.engine))},
                        {"Stored", copy.stored},
                        {"Elapsed", copy.elapsed},
                        {"Bytes", copy.bytes},
                        {"Error", copy.error}});
    }
    guard.set_phase(activity::Phase::kIdle);
  }
  // Hot standby copies (still under the repository lock): a failed one does not fail the
  // backup either.
  json standbys = json::array();
  if (!s.hot_standby.empty()) {
    guard.set_phase(activity::Phase::kFinishing);
    standbys = update_hot_standbys(ctx, s, state, o.backup_dir, info);
    guard.set_phase(activity::Phase::kIdle);
  }
  // backup.info as it is now (the uploads recorded their copies in it).
  auto current = backup::read_backup_info(o.backup_dir);
  json summary = backup_summary(s.name, o.backup_dir, current ? *current : info);
  if (!copies.empty()) {
    summary["Offsite"] = std::move(copies);
  }
  if (!standbys.empty()) {
    summary["HotStandby"] = std::move(standbys);
  }
  return CommandResult::success(summary);
}

Result<json> backups_json(const DaemonContext& ctx, size_t index, backup::SortOrder order) {
  const config::ServerConfig& server = ctx.config->servers[index];
  auto entries = entries_of(ctx, server);
  if (!entries) {
    return tl::unexpected(entries.error());
  }
  // WAL figures: bytes of stored WAL from each backup's first segment on, and between
  // consecutive backups.
  std::vector<std::string> wal_files;
  if (auto names = io::list_directory(wal_directory(*ctx.config, server)); names) {
    wal_files = std::move(*names);
  }
  // The server's segment size, else (never reached) what a backup.info implies, else 16 MB.
  uint64_t seg_size = ctx.shared->servers[index].snapshot().wal_segment_size;
  for (size_t i = 0; seg_size == 0 && i < entries->size(); ++i) {
    if ((*entries)[i].info) {
      seg_size = backup::segment_size_from_info(*(*entries)[i].info);
    }
  }
  if (seg_size == 0) {
    seg_size = 16u << 20;
  }
  std::vector<backup::WalFigures> figures(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto& e = (*entries)[i];
    if (!e.info) {
      continue;
    }
    const std::string first = backup::first_wal_segment(*e.info, seg_size);
    figures[i].wal = backup::wal_bytes_between(wal_files, first, "", seg_size);
    if (i > 0 && (*entries)[i - 1].info) {
      figures[i].delta = backup::wal_bytes_between(
          wal_files, backup::first_wal_segment(*(*entries)[i - 1].info, seg_size), first, seg_size);
    }
  }
  std::vector<size_t> order_index(entries->size());
  for (size_t i = 0; i < order_index.size(); ++i) {
    order_index[i] = order == backup::SortOrder::kAscending ? i : order_index.size() - 1 - i;
  }
  json backups = json::array();
  for (size_t i : order_index) {
    backups.push_back(list_entry_json(server.name, (*entries)[i], figures[i]));
  }
  return backups;
}

namespace {

// An info object with pgmoneta's Delta: the WAL bytes between the previous backup and this one,
// as list-backup counts them (0 when the figures cannot be read).
json with_delta(const DaemonContext& ctx, size_t index, json info) {
  info["Delta"] = 0;
  if (auto listed = backups_json(ctx, index, backup::SortOrder::kAscending); listed) {
    for (const json& b : *listed) {
      if (b.value("Backup", "") == info.value("Backup", "")) {
        info["Delta"] = b.value("Delta", json(0));
      }
    }
  }
  return info;
}

}  // namespace

CommandResult commands::list_backup(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kListBackup, mgmt::Failure::kNoServer,
                                  unknown_server(request), "list-backup");
  }
  std::string sort = string_arg(request, mgmt::key::kSort);
  backup::SortOrder order = backup::SortOrder::kAscending;
  if (!sort.empty()) {
    auto parsed = backup::parse_sort_order(sort);
    if (!parsed) {
      return CommandResult::failure(mgmt::Family::kListBackup, mgmt::Failure::kInvalidSort,
                                    fmt::format("unknown sort order '{}': asc or desc", sort),
                                    "list-backup");
    }
    order = *parsed;
  }
  auto listed = backups_json(ctx, static_cast<size_t>(l.index), order);
  if (!listed) {
    return CommandResult::failure(mgmt::Family::kListBackup, mgmt::Failure::kExecute,
                                  listed.error().message(), "list-backup");
  }
  const ServerSnapshot snap = ctx.shared->servers[static_cast<size_t>(l.index)].snapshot();
  json r;
  r["Server"] = l.server->name;
  r["MajorVersion"] = snap.major_version;
  r["MinorVersion"] = snap.minor_version;
  r["NumberOfBackups"] = listed->size();
  r["Backups"] = std::move(*listed);
  return CommandResult::success(r);
}

CommandResult commands::info(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kInfo, mgmt::Failure::kNoServer,
                                  unknown_server(request), "info");
  }
  auto entries = entries_of(ctx, *l.server);
  if (!entries) {
    return CommandResult::failure(mgmt::Family::kInfo, mgmt::Failure::kError,
                                  entries.error().message(), "info");
  }
  auto found =
      backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), l.server->name);
  if (!found) {
    return CommandResult::failure(mgmt::Family::kInfo, mgmt::Failure::kNoBackup,
                                  found.error().message(), "info");
  }
  return CommandResult::success(
      with_delta(ctx, static_cast<size_t>(l.index), info_json(l.server->name, **found)));
}

CommandResult commands::delete_backup(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kDelete, mgmt::Failure::kNoServer,
                                  unknown_server(request), "delete");
  }
  ServerState& state = ctx.shared->servers[static_cast<size_t>(l.index)];
  RepositoryLock lock(state);
  if (!lock.locked()) {
    return CommandResult::failure(
        mgmt::Family::kDeleteBackup, mgmt::Failure::kActive,
        fmt::format("server {}: a backup or another repository operation is running",
                    l.server->name),
        "delete");
  }
  if (auto finished = restore::complete_rollups(root_of(ctx, *l.server)); !finished) {
    return CommandResult::failure(
        mgmt::Family::kDeleteBackup, mgmt::Failure::kRollup,
        fmt::format("server {}: an interrupted rollup could not be completed: {}", l.server->name,
                    finished.error().message()),
        "delete");
  }
  auto entries = entries_of(ctx, *l.server);
  if (!entries) {
    return CommandResult::failure(mgmt::Family::kDelete, mgmt::Failure::kError,
                                  entries.error().message(), "delete");
  }
  auto found =
      backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), l.server->name);
  if (!found) {
    return CommandResult::failure(mgmt::Family::kDeleteBackup, mgmt::Failure::kNoBackup,
                                  found.error().message(), "delete");
  }
  std::string label = (*found)->label;
  // pgmoneta's delete answers with the backup's PostgreSQL version.
  json version = json::object();
  if ((*found)->info) {
    version["MajorVersion"] = (*found)->info->major_version;
    version["MinorVersion"] = (*found)->info->minor_version;
  }
  bool force = request.is_object() && request.value(mgmt::key::kForce, false);
  if ((*found)->info && (*found)->info->keep && !force) {
    return CommandResult::failure(
        mgmt::Family::kDeleteBackup, mgmt::Failure::kRetained,
        fmt::format("backup {} of server {} is retained (keep); expunge it or use --force", label,
                    l.server->name),
        "delete");
  }
  // A backup with an incremental child is rolled into the child first (pgmoneta's order).
  std::string child;
  for (const backup::BackupEntry& e : *entries) {
    if (e.info && e.info->parent == label) {
      child = e.label;
    }
  }
  ActivityGuard guard(state, activity::Activity::kDelete);
  // Remote copies first: a copy that cannot be removed keeps the local backup, so nothing
  // is left that the repository no longer knows about.
  if (auto remote = offsite::remove_backup_offsite(offsite_context(ctx), *l.server, label);
      !remote) {
    return CommandResult::failure(
        mgmt::Family::kDeleteBackup, mgmt::Failure::kExecute,
        fmt::format("backup {} of server {}: {}", label, l.server->name, remote.error().message()),
        "delete");
  }
  if (!child.empty()) {
    restore::RollupOptions ro;
    ro.root = root_of(ctx, *l.server);
    ro.parent = label;
    ro.child = child;
    ro.key = ctx.master_key.get();
    ro.level = ctx.config->compression_level;
    ro.workers = workers_for(*ctx.config, *l.server);
    // Fault injection for the crash tests: PGMONETA_FAULT_KILL_ROLLUP_AFTER=<step> makes this
    // child kill itself with SIGKILL right after that step of the rollup (0 first new file
    // stored in the unmarked copy, 1 marked, 2 swapped, 3 parent deleted), as a power cut or
    // kill -9 would stop it. An empty value sets nothing (atoi would read it as step 0).
    if (const char* step =
            std::getenv("PGMONETA_FAULT_KILL_ROLLUP_AFTER");  // NOLINT(concurrency-mt-unsafe)
        step != nullptr && *step != '\0') {
      const int kill_after = std::atoi(step);
      ro.after_step = [kill_after](int done) {
        if (done == kill_after) {
          ::raise(SIGKILL);
        }
        return true;
      };
    }
    auto rolled = restore::roll_up(ro);
    guard.drop_flag();
    if (!rolled) {
      log::error("delete of backup {} of server {}: rollup into {} failed: {}", label,
                 l.server->name, child, rolled.error().message());
      return CommandResult::failure(
          mgmt::Family::kDeleteBackup, mgmt::Failure::kRollup,
          fmt::format("backup {} of server {}: rollup into {} failed: {}", label, l.server->name,
                      child, rolled.error().message()),
          "delete");
    }
    // The child changed and forgot its remote copies: it goes up again now, replacing the old
    // copy (a failed upload is retried by the off-site pass).
    for (const offsite::OffsiteCopy& copy :
         offsite::copy_backup_offsite(offsite_context(ctx), *l.server, child)) {
      if (!copy.stored) {
        log::warn("backup {} of server {}: new copy after the rollup not stored yet: {}", child,
                  l.server->name, copy.error);
      }
    }
    log::info(
        "backup {} of server {} deleted: rolled into {} ({} file(s) rebuilt whole, {} merged)",
        label, l.server->name, child, rolled->rebuilt_whole, rolled->merged);
    json r = version;
    r["Server"] = l.server->name;
    r["Backup"] = label;
    r["RolledInto"] = child;
    return CommandResult::success(r);
  }
  auto deleted = backup::delete_backup(root_of(ctx, *l.server), label, force);
  guard.drop_flag();
  if (!deleted) {
    mgmt::Failure failure = deleted.error().code() == ErrorCode::kUnavailable
                                ? mgmt::Failure::kRetained
                                : mgmt::Failure::kExecute;
    return CommandResult::failure(mgmt::Family::kDeleteBackup, failure, deleted.error().message(),
                                  "delete");
  }
  log::info("backup {} of server {} deleted ({} bytes freed)", label, l.server->name,
            deleted->bytes_freed);
  json r = version;
  r["Server"] = l.server->name;
  r["Backup"] = label;
  r["BytesFreed"] = deleted->bytes_freed;
  return CommandResult::success(r);
}

namespace {

// retain (keep = true) and expunge (keep = false).
CommandResult keep_command(const DaemonContext& ctx, const json& request, bool keep) {
  const char* workflow = keep ? "retain" : "expunge";
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(keep ? mgmt::Family::kRetain : mgmt::Family::kExpunge,
                                  mgmt::Failure::kNoServer, unknown_server(request), workflow);
  }
  auto entries = entries_of(ctx, *l.server);
  if (!entries) {
    return CommandResult::failure(keep ? mgmt::Family::kRetain : mgmt::Family::kExpunge,
                                  mgmt::Failure::kError, entries.error().message(), workflow);
  }
  auto found =
      backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), l.server->name);
  if (!found) {
    return CommandResult::failure(keep ? mgmt::Family::kRetain : mgmt::Family::kExpunge,
                                  mgmt::Failure::kNoBackup, found.error().message(), workflow);
  }
  // --cascade: the backup and every ancestor up to the full backup of its chain, newest first.
  std::vector<std::string> labels{(*found)->label};
  const bool cascade = request.is_object() && request.value(mgmt::key::kCascade, false);
  for (const backup::BackupEntry* at = *found; cascade && at->info && !at->info->parent.empty();) {
    auto parent = std::find_if(entries->begin(), entries->end(), [&](const backup::BackupEntry& e) {
      return e.label == at->info->parent;
    });
    if (parent == entries->end() ||
        std::find(labels.begin(), labels.end(), parent->label) != labels.end()) {
      break;  // a broken or looping chain: what exists is marked
    }
    labels.push_back(parent->label);
    at = &*parent;
  }
  std::optional<backup::BackupInfo> first;
  for (const std::string& label : labels) {
    auto updated = backup::set_keep(root_of(ctx, *l.server), label, keep);
    if (!updated) {
      return CommandResult::failure(keep ? mgmt::Family::kRetain : mgmt::Family::kExpunge,
                                    mgmt::Failure::kError, updated.error().message(), workflow);
    }
    if (!first) {
      first = *updated;
    }
  }
  backup::BackupEntry entry = **found;
  entry.info = *first;
  json r = list_entry_json(l.server->name, entry);
  // pgmoneta's keys: every backup marked, and whether the chain was asked for.
  r["Backups"] = labels;
  r["Cascade"] = cascade;
  r["MajorVersion"] = first->major_version;
  r["MinorVersion"] = first->minor_version;
  return CommandResult::success(r);
}

}  // namespace

CommandResult commands::retain(const Call& call) {
  return keep_command(call.ctx, call.request, true);
}

CommandResult commands::expunge(const Call& call) {
  return keep_command(call.ctx, call.request, false);
}

CommandResult commands::annotate(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kAnnotate, mgmt::Failure::kNoServer,
                                  unknown_server(request), "annotate");
  }
  auto action = backup::parse_annotate_action(string_arg(request, mgmt::key::kAction));
  if (!action) {
    return CommandResult::failure(mgmt::Family::kAnnotate, mgmt::Failure::kUnknownAction,
                                  fmt::format("unknown annotate action '{}': add, update or remove",
                                              string_arg(request, mgmt::key::kAction)),
                                  "annotate");
  }
  auto entries = entries_of(ctx, *l.server);
  if (!entries) {
    return CommandResult::failure(mgmt::Family::kAnnotate, mgmt::Failure::kError,
                                  entries.error().message(), "annotate");
  }
  auto found =
      backup::resolve_backup(*entries, string_arg(request, mgmt::key::kBackup), l.server->name);
  if (!found) {
    return CommandResult::failure(mgmt::Family::kAnnotate, mgmt::Failure::kNoBackup,
                                  found.error().message(), "annotate");
  }
  auto updated = backup::annotate(root_of(ctx, *l.server), (*found)->label, *action,
                                  string_arg(request, mgmt::key::kKey),
                                  string_arg(request, mgmt::key::kComment));
  if (!updated) {
    return CommandResult::failure(mgmt::Family::kAnnotate, mgmt::Failure::kFailed,
                                  updated.error().message(), "annotate");
  }
  backup::BackupEntry entry = **found;
  entry.info = *updated;
  return CommandResult::success(
      with_delta(ctx, static_cast<size_t>(l.index), info_json(l.server->name, entry)));
}

CommandResult commands::progress(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(mgmt::Family::kProgress, mgmt::Failure::kNoServer,
                                  unknown_server(request), "progress");
  }
  std::string operation = string_arg(request, mgmt::key::kCommand);
  if (!operation.empty() && !activity::parse_operation(operation)) {
    return CommandResult::failure(
        mgmt::Family::kProgress, mgmt::Failure::kUnknownAction,
        fmt::format("progress is tracked for backup, restore, verify and archive, not '{}'",
                    operation),
        "progress");
  }
  // With progress = off pgmoneta answers zeros (idle) rather than an error, and scripts rely on
  // that; ours does the same and says why in Tracking (false) and Phase ("off").
  const bool tracking = progress_enabled(*ctx.config, *l.server);
  const ServerState& state = ctx.shared->servers[static_cast<size_t>(l.index)];
  activity::Progress progress = state.progress();
  activity::Phase phase = progress.phase;
  std::string running(activity::operation_name(progress.operation));
  // The operation asked about is not the one running (or last run): idle, no figures.
  bool other = !tracking || (!operation.empty() && operation != running);
  if (other) {
    phase = activity::Phase::kIdle;
  }
  bool idle = phase == activity::Phase::kIdle;
  uint64_t done = other ? 0 : progress.done;
  uint64_t total = other ? 0 : progress.total;
  double elapsed = idle ? 0.0 : static_cast<double>(wall_clock_ms() - progress.started_ms) / 1000.0;
  double remaining = -1;
  if (!idle && total > 0 && done > 0 && elapsed > 0) {
    double rate = static_cast<double>(done) / elapsed;
    remaining = static_cast<double>(total > done ? total - done : 0) / rate;
  }
  const ServerSnapshot snap = state.snapshot();
  json r;
  r["Server"] = l.server->name;
  r["MajorVersion"] = snap.major_version;
  r["MinorVersion"] = snap.minor_version;
  r["Operation"] = operation.empty() && tracking ? running : operation;
  // pgmoneta's types: the state as a number, Remaining as {string_value, value} in seconds
  // (-1: no estimate yet); Phase is ours, the state's name.
  r["ProgressState"] = static_cast<int>(phase);
  r["Phase"] = tracking ? std::string(activity::phase_name(phase)) : std::string("off");
  r["Tracking"] = tracking;
  r["Done"] = done;
  r["Total"] = total;
  r["Percentage"] = total > 0 ? static_cast<int>(std::min<uint64_t>(100, done * 100 / total)) : 0;
  r["Elapsed"] = elapsed;
  const int64_t remaining_s = remaining < 0 ? -1 : std::llround(remaining);
  r["Remaining"] = {
      {"string_value", remaining_s < 0 ? std::string("unknown") : fmt::format("{}s", remaining_s)},
      {"value", remaining_s}};
  return CommandResult::success(r);
}

void run_retention(const DaemonContext& ctx, std::chrono::system_clock::time_point now) {
  const config::Config& c = *ctx.config;
  std::vector<backup::RetentionServer> servers;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    ServerState& state = ctx.shared->servers[i];
    servers.push_back({&c.servers[i], &state, state.snapshot().wal_segment_size});
  }
  offsite::OffsiteRemote remote(offsite_context(ctx));
  backup::run_retention(c, servers, remote, now);
}

}  // namespace pgm::daemon
