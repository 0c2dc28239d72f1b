#include "pgm/daemon/commands/restore.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/link.h"
#include "pgm/backup/repository.h"
#include "pgm/core/scope_exit.h"
#include "pgm/daemon/commands/backup_json.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/daemon/process_title.h"
#include "pgm/daemon/wal_receiver.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/restore/archive.h"
#include "pgm/restore/leftovers.h"
#include "pgm/restore/position.h"
#include "pgm/restore/recovery.h"
#include "pgm/restore/restore.h"
#include "pgm/wal/segment.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

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

// A staged restore for archive carries its tablespaces as directories in pg_tblspc (see
// restore/archive.h); PostgreSQL 15's recovery refuses those unless this setting is on.
Result<void> allow_in_place_tablespaces(const std::string& dir) {
  auto links = io::list_directory(dir + "/pg_tblspc");
  if (!links || links->empty()) {
    return {};
  }
  std::string auto_conf = dir + "/postgresql.auto.conf";
  std::string text;
  if (auto existing = io::read_file(auto_conf); existing) {
    text = std::move(*existing);
  }
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  text +=
      "# tablespaces are directories under pg_tblspc in this archive\n"
      "allow_in_place_tablespaces = 'on'\n";
  return io::write_file_atomic(auto_conf, text, 0600);
}

// Removes a staging directory and the tablespace directories a restore put next to it.
void remove_staging(const std::string& staging) {
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  if (ec) {
    log::warn("remove {}: {}", staging, ec.message());
  }
  std::filesystem::path path(staging);
  std::string prefix = path.filename().string() + "-tblspc_";
  std::error_code it_ec;
  std::vector<std::filesystem::path> extra;
  for (std::filesystem::directory_iterator it(path.parent_path(), it_ec), end; !it_ec && it != end;
       it.increment(it_ec)) {
    if (it->path().filename().string().starts_with(prefix)) {
      extra.push_back(it->path());
    }
  }
  for (const auto& e : extra) {
    std::filesystem::remove_all(e, ec);
    if (ec) {
      log::warn("remove {}: {}", e.string(), ec.message());
    }
  }
}

std::string local_timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

constexpr RestoreCodes kRestoreCodes{mgmt::Family::kRestore, "restore", "restored"};
constexpr RestoreCodes kArchiveCodes{mgmt::Family::kArchive, "archive", "archived"};

// restore and archive: the request checked, the lock held, the backup chosen from the
// repository.
std::optional<CommandResult> prepare(const DaemonContext& ctx, const json& request,
                                     const RestoreCodes& codes, PreparedRestore& p) {
  if (auto failed = begin_restore(ctx, request, codes, p)) {
    return failed;
  }
  return select_restore_backup(ctx, string_arg(request, mgmt::key::kBackup),
                               backup::backup_root(ctx.config->base_dir, p.server->name), codes, p);
}

// RestoreOptions for restoring p's backup into target_dir with p's recovery settings.
restore::RestoreOptions restore_options(const DaemonContext& ctx, const PreparedRestore& p,
                                        const std::string& target_dir) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = *p.server;
  restore::RestoreOptions o;
  o.backup_dir = p.entry->dir;
  o.info = *p.entry->info;
  o.target_dir = target_dir;
  o.key = ctx.master_key.get();
  o.workers = workers_for(c, s);
  o.copy_wal = p.position.wants_wal();
  o.wal_dir = p.wal_dir.empty() ? wal_directory(c, s) : p.wal_dir;
  // The server's, else (never reached since the start) what the backup's WAL and
  // START_WALPOS imply, else PostgreSQL's default.
  uint64_t seg_size = p.state->snapshot().wal_segment_size;
  if (seg_size == 0) {
    seg_size = backup::segment_size_from_info(o.info);
  }
  o.wal_segment_size = seg_size != 0 ? seg_size : wal::kDefaultSegmentSize;
  o.configure = [&p](const std::string& dir) { return write_recovery(dir, p.plan, p.header); };
  return o;
}

// Why `directory` may not receive a restore, or "" when it may: it lies inside the repository
// (base_dir), a workspace, a WAL shipping copy or a hot standby directory, where a data
// directory would mix with files the daemon owns. Paths are compared after resolving the
// symbolic links of their existing parts.
std::string forbidden_target(const config::Config& c, const std::string& directory) {
  namespace fs = std::filesystem;
  auto resolved = [](const std::string& path) {
    std::error_code ec;
    fs::path r = fs::weakly_canonical(path, ec);
    return ec ? fs::path(path).lexically_normal() : r;
  };
  auto inside = [](const fs::path& path, const fs::path& area) {
    auto [a, p] = std::mismatch(area.begin(), area.end(), path.begin(), path.end());
    return a == area.end() || (std::next(a) == area.end() && a->empty());
  };
  std::vector<std::pair<std::string, std::string>> areas = {{"base_dir", c.base_dir},
                                                            {"workspace", c.workspace}};
  for (const config::ServerConfig& s : c.servers) {
    areas.emplace_back(fmt::format("workspace of server {}", s.name), s.workspace);
    areas.emplace_back(fmt::format("wal_shipping of server {}", s.name), s.wal_shipping);
    for (const std::string& standby : s.hot_standby) {
      areas.emplace_back(fmt::format("hot_standby of server {}", s.name), standby);
    }
  }
  const fs::path target = resolved(directory);
  for (const auto& [what, area] : areas) {
    if (!area.empty() && inside(target, resolved(area))) {
      return fmt::format("{} is inside the {} {}: a restore never writes there", directory, what,
                         area);
    }
  }
  return {};
}

}  // namespace

std::optional<CommandResult> begin_restore(const DaemonContext& ctx, const json& request,
                                           const RestoreCodes& codes, PreparedRestore& p) {
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(codes.family, mgmt::Failure::kNoServer, unknown_server(request),
                                  codes.workflow);
  }
  const config::ServerConfig& s = *l.server;
  p.server = l.server;
  p.state = &ctx.shared->servers[static_cast<size_t>(l.index)];
  ServerState& state = *p.state;

  auto position = restore::parse_position(string_arg(request, mgmt::key::kPosition));
  if (!position) {
    return CommandResult::failure(codes.family, mgmt::Failure::kNoBackup,
                                  position.error().message(), codes.workflow);
  }
  p.position = *position;
  std::string directory = string_arg(request, mgmt::key::kDirectory);
  if (directory.empty() || directory.front() != '/') {
    return CommandResult::failure(
        codes.family, mgmt::Failure::kSetup,
        fmt::format("{} directory '{}' must be an absolute path", codes.workflow, directory),
        codes.workflow);
  }
  while (directory.size() > 1 && directory.back() == '/') {
    directory.pop_back();
  }
  p.directory = directory;
  if (std::string why = forbidden_target(*ctx.config, directory); !why.empty()) {
    return CommandResult::failure(codes.family, mgmt::Failure::kSetup, why, codes.workflow);
  }

  p.lock = std::make_unique<RepositoryLock>(state);
  if (!p.lock->locked()) {
    return CommandResult::failure(
        codes.family, mgmt::Failure::kActive,
        fmt::format("server {}: a backup or another repository operation is running (pid {})",
                    s.name, state.repository_owner()),
        codes.workflow);
  }
  return std::nullopt;
}

std::optional<CommandResult> select_restore_backup(const DaemonContext& ctx, std::string_view id,
                                                   const std::string& backup_root,
                                                   const RestoreCodes& codes, PreparedRestore& p) {
  const config::ServerConfig& s = *p.server;
  auto entries = backup::list_backups(backup_root);
  if (!entries) {
    return CommandResult::failure(codes.family, mgmt::Failure::kError, entries.error().message(),
                                  codes.workflow);
  }
  p.entries = std::move(*entries);
  auto found = restore::select_backup(p.entries, id, p.position, s.name);
  if (!found) {
    return CommandResult::failure(codes.family, mgmt::Failure::kNoBackup, found.error().message(),
                                  codes.workflow);
  }
  const backup::BackupEntry& entry = **found;
  p.entry = &entry;
  if (!entry.valid()) {
    return CommandResult::failure(
        codes.family, mgmt::Failure::kNoBackup,
        fmt::format("backup {} of server {} is not valid ({}): it cannot be {}", entry.label,
                    s.name, entry.info ? std::string("STATUS=0") : entry.problem, codes.done),
        codes.workflow);
  }
  if (entry.info->encryption != 0 && !ctx.master_key) {
    return CommandResult::failure(
        codes.family, mgmt::Failure::kSetup,
        fmt::format("backup {} is encrypted but the daemon has no master key", entry.label),
        codes.workflow);
  }

  restore::ReplicaSource source;
  source.host = s.host;
  source.port = s.port;
  source.user = s.user;
  source.application_name = fmt::format("pgmoneta_{}_{}", s.name, entry.label);
  p.plan = restore::plan_recovery(p.position, source);
  p.header = fmt::format("{} of backup {} of server {} at {}", codes.workflow, entry.label, s.name,
                         local_timestamp());
  return std::nullopt;
}

CommandResult execute_restore(const DaemonContext& ctx, const json& request,
                              const RestoreCodes& codes, PreparedRestore& p) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = *p.server;
  ServerState& state = *p.state;
  const backup::BackupEntry& entry = *p.entry;
  const std::string& directory = p.directory;

  restore::RestoreOptions o =
      restore_options(ctx, p, fmt::format("{}/{}-{}", directory, s.name, entry.label));

  bool progress = progress_enabled(c, s);
  std::optional<ActivityGuard> guard(std::in_place, state, activity::Operation::kRestore,
                                     activity::Phase::kStreaming, activity::Activity::kRestore,
                                     o.info.restore_size);
  o.on_progress = [&guard, progress](uint64_t done, uint64_t total) {
    if (progress) {
      guard->set_progress(done, total);
    }
  };
  set_process_title(c.update_process_title, codes.workflow, s.name);
  log::info("{} of backup {} of server {} into {} started", codes.workflow, entry.label, s.name,
            o.target_dir);
  auto result = restore::run_restore(o);
  guard.reset();
  if (!result) {
    state.failed_operation_count.fetch_add(1);
    log::error("{} of backup {} of server {} failed: {}", codes.workflow, entry.label, s.name,
               result.error().message());
    mgmt::Failure failure = result.error().code() == ErrorCode::kUnavailable
                                ? mgmt::Failure::kNoDisk
                                : mgmt::Failure::kExecute;
    return CommandResult::failure(
        codes.family, failure,
        fmt::format("{} of backup {} of server {} failed: {} (nothing was left in {})",
                    codes.workflow, entry.label, s.name, result.error().message(), directory),
        codes.workflow);
  }
  state.operation_count.fetch_add(1);
  log::info(
      "{} of backup {} of server {} into {} done: {} files, {} bytes, {} WAL files, "
      "{:.2f} s, peak_rss_kb={}",
      codes.workflow, entry.label, s.name, o.target_dir, result->files, result->bytes,
      result->wal_files, result->elapsed.count(), max_rss_kb());
  json r = list_entry_json(s.name, entry);
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

CommandResult commands::restore(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  PreparedRestore p;
  if (auto failed = prepare(ctx, request, kRestoreCodes, p)) {
    return std::move(*failed);
  }
  return execute_restore(ctx, request, kRestoreCodes, p);
}

CommandResult commands::archive(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  PreparedRestore p;
  if (auto failed = prepare(ctx, request, kArchiveCodes, p)) {
    return std::move(*failed);
  }
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = *p.server;
  ServerState& state = *p.state;
  const backup::BackupEntry& entry = *p.entry;
  auto fail = [](mgmt::Failure failure, std::string message) {
    return CommandResult::failure(mgmt::Family::kArchive, failure, std::move(message), "archive");
  };

  std::optional<compress::Algorithm> algorithm =
      backup::compression_algorithm(entry.info->compression);
  if (!algorithm) {
    return fail(mgmt::Failure::kSetup, fmt::format("backup {}: unknown compression {}", entry.label,
                                                   static_cast<int>(entry.info->compression)));
  }
  auto encryption = static_cast<crypto::AesMode>(entry.info->encryption);
  // A directory that does not exist yet is created, as pgmoneta does.
  struct stat st {};
  if (::stat(p.directory.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    return fail(mgmt::Failure::kSetup,
                fmt::format("archive directory {} is not a directory", p.directory));
  }
  if (auto made = io::make_directories(p.directory, 0700); !made) {
    return fail(mgmt::Failure::kSetup,
                fmt::format("archive directory {}: {}", p.directory, made.error().message()));
  }
  std::string workspace = !s.workspace.empty() ? s.workspace : c.workspace;
  while (workspace.size() > 1 && workspace.back() == '/') {
    workspace.pop_back();
  }
  if (auto made = io::make_directories(workspace, 0700); !made) {
    return fail(mgmt::Failure::kSetup,
                fmt::format("workspace {}: {}", workspace, made.error().message()));
  }
  // Before anything may refuse the run: a run killed after its rename leaves the archive and
  // its staging, and the re-run that finds the archive must still clear the staging.
  restore::remove_dead_workspace_leftovers(workspace);
  restore::remove_dead_temp_files(p.directory, fmt::format("archive-{}-", s.name));
  std::string file =
      fmt::format("{}/{}", p.directory,
                  restore::archive_file_name(s.name, entry.label, *algorithm, encryption));
  if (exists(file)) {
    return fail(mgmt::Failure::kSetup,
                fmt::format("{} already exists: remove it or choose another directory", file));
  }
  std::string staging =
      fmt::format("{}/archive-{}-{}-{}", workspace, s.name, entry.label, ::getpid());
  remove_staging(staging);  // a leftover of a killed run with the same pid
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return fail(mgmt::Failure::kSetup,
                fmt::format("mkdir {}: {}", staging, errno_error("", errno).message()));
  }
  ScopeExit cleanup([&staging] { remove_staging(staging); });

  restore::RestoreOptions o = restore_options(ctx, p, staging);
  o.configure = [&p](const std::string& dir) -> Result<void> {
    PGM_TRY(write_recovery(dir, p.plan, p.header));
    return allow_in_place_tablespaces(dir);
  };
  bool progress = progress_enabled(c, s);
  uint64_t restore_size = o.info.restore_size;
  std::optional<ActivityGuard> guard(std::in_place, state, activity::Operation::kArchive,
                                     activity::Phase::kStreaming, activity::Activity::kArchive,
                                     2 * restore_size);
  // Two halves: the staged restore, then the tar.
  o.on_progress = [&guard, progress](uint64_t done, uint64_t total) {
    if (progress) {
      guard->set_progress(done, 2 * total);
    }
  };
  set_process_title(c.update_process_title, "archive", s.name);
  log::info("archive of backup {} of server {} into {} started (staging {})", entry.label, s.name,
            file, staging);
  auto restored = restore::run_restore(o);
  if (!restored) {
    guard.reset();
    state.failed_operation_count.fetch_add(1);
    log::error("archive of backup {} of server {} failed: restore: {}", entry.label, s.name,
               restored.error().message());
    return fail(mgmt::Failure::kExecute,
                fmt::format("archive of backup {} of server {} failed: restore into {}: {}",
                            entry.label, s.name, staging, restored.error().message()));
  }

  restore::ArchiveOptions a;
  a.source_dir = staging;
  a.directory = p.directory;
  a.server = s.name;
  a.label = entry.label;
  a.algorithm = *algorithm;
  a.level = c.compression_level;
  a.encryption = encryption;
  a.key = ctx.master_key.get();
  uint64_t restored_bytes = restored->bytes;
  a.on_progress = [&guard, progress, restored_bytes](uint64_t done, uint64_t total) {
    if (progress) {
      guard->set_progress(restored_bytes + done, restored_bytes + total);
    }
  };
  auto archived = restore::write_archive(a);
  guard.reset();
  if (!archived) {
    state.failed_operation_count.fetch_add(1);
    log::error("archive of backup {} of server {} failed: {}", entry.label, s.name,
               archived.error().message());
    return fail(mgmt::Failure::kExecute, fmt::format("{} (nothing was left in {})",
                                                     archived.error().message(), p.directory));
  }
  state.operation_count.fetch_add(1);
  backup::Seconds elapsed = restored->elapsed + archived->elapsed;
  log::info("archive of backup {} of server {} done: {} ({} bytes, {} files), {:.2f} s",
            entry.label, s.name, archived->path, archived->size, archived->files, elapsed.count());
  json r = list_entry_json(s.name, entry);
  r["FileName"] = archived->path;
  r["ArchiveSize"] = archived->size;
  r["Position"] = string_arg(request, mgmt::key::kPosition);
  r["RestoredBytes"] = restored->bytes;
  r["Files"] = archived->files;
  r["WalFiles"] = restored->wal_files;
  r["Elapsed"] = elapsed.count();
  r["MajorVersion"] = entry.info->major_version;
  r["MinorVersion"] = entry.info->minor_version;
  return CommandResult::success(r);
}

}  // namespace pgm::daemon
