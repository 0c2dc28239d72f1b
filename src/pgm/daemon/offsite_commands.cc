#include "pgm/daemon/offsite_commands.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/core/scope_exit.h"
#include "pgm/daemon/command_support.h"
#include "pgm/daemon/offsite.h"
#include "pgm/daemon/restore_commands.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/restore/verify.h"
#include "pgm/storage/storage.h"
#include "pgm/storage/transfer.h"
#include "pgm/wal/segment.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
namespace fs = std::filesystem;
using nlohmann::json;
using storage::Engine;

namespace {

// ServerState::progress_operation of a restore (shared_state.h: 0 backup, 1 restore, ...).
constexpr int kOperationRestore = 1;
constexpr int kPhaseStarting = 1;

constexpr std::string_view kStagingPrefix = "staging-";

int32_t ls_base(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return mgmt::kErrorS3LsBase;
    case Engine::kAzure:
      return mgmt::kErrorAzureLsBase;
    case Engine::kSsh:
      return mgmt::kErrorSshLsBase;
  }
  return mgmt::kErrorS3LsBase;
}

int32_t restore_base(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return mgmt::kErrorS3RestoreBase;
    case Engine::kAzure:
      return mgmt::kErrorAzureRestoreBase;
    case Engine::kSsh:
      return mgmt::kErrorSshRestoreBase;
  }
  return mgmt::kErrorS3RestoreBase;
}

const char* ls_workflow(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return "s3 ls";
    case Engine::kAzure:
      return "azure ls";
    case Engine::kSsh:
      return "ssh ls";
  }
  return "s3 ls";
}

const char* restore_workflow(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return "s3 restore";
    case Engine::kAzure:
      return "azure restore";
    case Engine::kSsh:
      return "ssh restore";
  }
  return "s3 restore";
}

RestoreCodes restore_codes(Engine engine) {
  int32_t b = restore_base(engine);
  return RestoreCodes{b + mgmt::kOffsiteRestoreNoServer,
                      b + mgmt::kOffsiteRestoreNoBackup,
                      b + mgmt::kOffsiteRestoreActive,
                      b + mgmt::kOffsiteRestoreSetup,
                      b + mgmt::kOffsiteRestoreNoDisk,
                      b + mgmt::kOffsiteRestoreExecute,
                      b + mgmt::kOffsiteRestoreError,
                      restore_workflow(engine),
                      "restored"};
}

// The engine for `server`, or why not: not built into this binary, or open_engine's error
// (a missing key, SFTP refusing the host key or the credentials).
Result<std::unique_ptr<storage::Storage>> open_storage(const DaemonContext& ctx, Engine engine,
                                                       const config::ServerConfig& server) {
  if (!storage::engine_built(engine)) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{}: this pgmoneta was built without the {} storage engine",
                                  storage::engine_name(engine), storage::engine_name(engine)));
  }
  return storage::open_engine(engine, *ctx.config, server);
}

// Peak resident set of this process in kB (VmHWM), 0 when /proc cannot tell: logged so that
// tests and operators can see that memory stays bounded whatever the object sizes.
uint64_t peak_rss_kb() {
  auto status = io::read_file("/proc/self/status");
  if (!status) {
    return 0;
  }
  size_t at = status->find("VmHWM:");
  if (at == std::string::npos) {
    return 0;
  }
  size_t digits = status->find_first_of("0123456789", at);
  if (digits == std::string::npos) {
    return 0;
  }
  uint64_t kb = 0;
  std::from_chars(status->data() + digits, status->data() + status->size(), kb);
  return kb;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- ls ---------------------------------------------------------------------------------------

// The prefix of an ls request: pgmoneta's S3Prefix, or Prefix (azure, ssh).
std::string requested_prefix(const json& request) {
  std::string prefix = string_arg(request, mgmt::key::kS3Prefix);
  return prefix.empty() ? string_arg(request, mgmt::key::kPrefix) : prefix;
}

}  // namespace

std::optional<OffsiteCommand> offsite_command(mgmt::Command command) {
  switch (command) {
    case mgmt::Command::kS3Ls:
      return OffsiteCommand{Engine::kS3, false};
    case mgmt::Command::kS3Restore:
      return OffsiteCommand{Engine::kS3, true};
    case mgmt::Command::kAzureLs:
      return OffsiteCommand{Engine::kAzure, false};
    case mgmt::Command::kAzureRestore:
      return OffsiteCommand{Engine::kAzure, true};
    case mgmt::Command::kSshLs:
      return OffsiteCommand{Engine::kSsh, false};
    case mgmt::Command::kSshRestore:
      return OffsiteCommand{Engine::kSsh, true};
    default:
      return std::nullopt;
  }
}

CommandResult offsite_ls_command(const DaemonContext& ctx, Engine engine, const json& request) {
  const char* workflow = ls_workflow(engine);
  int32_t base = ls_base(engine);
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(base + mgmt::kOffsiteLsNoServer, unknown_server(request),
                                  workflow);
  }
  const std::string& server = l.server->name;
  auto fail = [&](int32_t member, const Error& e) {
    std::string message = fmt::format("{} of server {}: {}", workflow, server, e.message());
    log::error("{}", message);
    return CommandResult::failure(base + member, message, workflow);
  };
  auto opened = open_storage(ctx, engine, *l.server);
  if (!opened) {
    return fail(mgmt::kOffsiteLsEngine, opened.error());
  }
  storage::Storage& store = **opened;
  std::string prefix = requested_prefix(request);
  auto objects = store.list(server + "/" + prefix);
  if (!objects) {
    int32_t member = storage::kind(objects.error()) == storage::ErrorKind::kAuth
                         ? mgmt::kOffsiteLsEngine
                         : mgmt::kOffsiteLsError;
    return fail(member, objects.error());
  }
  auto labels = storage::remote_backups(store, server);
  if (!labels) {
    return fail(mgmt::kOffsiteLsError, labels.error());
  }
  json list = json::array();
  uint64_t total = 0;
  for (const storage::ObjectInfo& o : *objects) {
    list.push_back({{"Key", o.key}, {"Size", o.size}});
    total += o.size;
  }
  json r;
  r["Server"] = server;
  r["Engine"] = std::string(storage::engine_name(engine));
  r["Prefix"] = prefix;
  r["Objects"] = list;
  r["NumberOfObjects"] = objects->size();
  r["TotalSize"] = total;
  r["Backups"] = *labels;
  return CommandResult::success(r);
}

// ---- restore ----------------------------------------------------------------------------------

namespace {

bool is_label(std::string_view id) {
  return id.size() == 14 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Removes <server_dir>/staging-<pid> directories of processes that are gone (a killed restore)
// and our own pid's (a leftover from before a reboot that reused it).
void remove_stale_staging(const std::string& server_dir) {
  std::error_code ec;
  for (fs::directory_iterator it(server_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.starts_with(kStagingPrefix)) {
      continue;
    }
    std::string_view digits = std::string_view(name).substr(kStagingPrefix.size());
    pid_t pid = 0;
    auto [ptr, perr] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (perr != std::errc() || ptr != digits.data() + digits.size() || pid <= 0) {
      continue;
    }
    if (pid != ::getpid() && process_alive(pid)) {
      continue;
    }
    std::error_code rec;
    fs::remove_all(it->path(), rec);
    if (rec) {
      log::warn("remove stale staging directory {}: {}", it->path().string(), rec.message());
    } else {
      log::info("removed stale staging directory {}", it->path().string());
    }
  }
}

// A failure while staging: the error family member and the one-line cause.
struct StageFailure {
  int32_t member = mgmt::kOffsiteRestoreError;
  std::string message;
};

// Which member a storage or staging error belongs to.
int32_t member_of(const Error& e) {
  if (e.code() == ErrorCode::kCorruption) {
    return mgmt::kOffsiteRestoreCorrupted;
  }
  switch (storage::kind(e)) {
    case storage::ErrorKind::kAuth:
      return mgmt::kOffsiteRestoreEngine;
    case storage::ErrorKind::kNotFound:
      return mgmt::kOffsiteRestoreNoBackup;
    case storage::ErrorKind::kRetryable:  // unreachable, throttled, timed out
    case storage::ErrorKind::kPermanent:
      break;
  }
  return mgmt::kOffsiteRestoreDownload;
}

// Publishes the download as the "starting" phase of a restore; idle again on every path
// (execute_restore publishes the restore itself).
class DownloadProgress {
 public:
  DownloadProgress(ServerState& state, bool enabled) : state_(state), enabled_(enabled) {
    state_.active_restore.store(true);
    state_.progress_operation.store(kOperationRestore);
    state_.progress_done.store(0);
    state_.progress_total.store(0);
    state_.progress_started_ms.store(wall_clock_ms());
    state_.progress_phase.store(kPhaseStarting);
  }
  ~DownloadProgress() {
    state_.active_restore.store(false);
    state_.progress_phase.store(0);
    state_.progress_operation.store(0);
  }
  DownloadProgress(const DownloadProgress&) = delete;
  DownloadProgress& operator=(const DownloadProgress&) = delete;

  storage::TransferProgress callback() {
    return [this](uint64_t done, uint64_t total) {
      if (enabled_) {
        state_.progress_done.store(done);
        state_.progress_total.store(total);
      }
    };
  }

 private:
  ServerState& state_;
  bool enabled_;
};

// One off-site restore: the engine, the staging directory and what was downloaded.
struct OffsiteRestore {
  Engine engine = Engine::kS3;
  std::string server;
  std::unique_ptr<storage::Storage> store;
  std::string staging;  // <base_dir>/<server>/staging-<pid>
  uint64_t downloaded = 0;
  std::string where() const {
    return fmt::format("{} of server {}", restore_workflow(engine), server);
  }
};

// The label `id` names among the complete remote backups. Their backup.info files are fetched
// into <staging>/select/ so that restore::select_backup chooses exactly as a local restore does
// (valid backups only for keywords; a position's lsn/time/timeline bound).
Result<std::string> choose_backup(OffsiteRestore& o, std::string_view id,
                                  const restore::Position& position) {
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> labels,
                       storage::remote_backups(*o.store, o.server));
  const std::string engine(storage::engine_name(o.engine));
  if (is_label(id)) {
    if (std::find(labels.begin(), labels.end(), id) == labels.end()) {
      return make_error(ErrorCode::kNotFound, fmt::format("{}: no complete backup {} of server {}",
                                                          engine, id, o.server));
    }
    labels = {std::string(id)};
  } else if (id != "oldest" && id != "newest" && id != "latest") {
    return make_error(
        ErrorCode::kNotFound,
        fmt::format("backup identifier '{}' is not a label, oldest, newest or latest", id));
  } else if (labels.empty()) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: no complete backup of server {}", engine, o.server));
  }
  std::string select_root = o.staging + "/select";
  for (const std::string& label : labels) {
    std::string key = storage::backup_prefix(o.server, label) + "backup.info";
    std::string dir = select_root + "/" + label;
    PGM_TRY(io::make_directories(dir, 0700));
    PGM_TRY(storage::download_verified(*o.store, key, dir + "/backup.info"));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<backup::BackupEntry> entries, backup::list_backups(select_root));
  auto chosen = restore::select_backup(entries, id, position, o.server);
  if (!chosen) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: {}", engine, chosen.error().message()));
  }
  return (*chosen)->label;
}

// Proves the staged copy as `verify` proves a repository backup: backup.info and
// backup.manifest against backup.sha512, every data file against the manifest.
Result<void> verify_staged(const DaemonContext& ctx, const config::ServerConfig& server,
                           const std::string& backup_dir) {
  PGM_ASSIGN_OR_RETURN(backup::BackupInfo info, backup::read_backup_info(backup_dir));
  restore::VerifyOptions v;
  v.backup_dir = backup_dir;
  v.info = info;
  v.key = ctx.master_key.get();
  v.workers = workers_for(*ctx.config, server);
  PGM_ASSIGN_OR_RETURN(restore::VerifyReport report, restore::verify_backup(v));
  if (report.ok()) {
    return {};
  }
  const restore::VerifyFile& first = report.failed.front();
  return make_error(ErrorCode::kCorruption,
                    fmt::format("the staged copy fails verification: {}: {} ({} file(s) failed)",
                                first.path, first.problem, report.failed.size()));
}

// The remote WAL a positioned restore needs: history files and the segments from the backup's
// first one on (any timeline), each proven against its SHA-512, into `dest`.
Result<uint64_t> stage_wal(OffsiteRestore& o, const std::string& first_wal,
                           const std::string& dest) {
  PGM_TRY(io::make_directories(dest, 0700));
  std::string prefix = remote_wal_prefix(o.server);
  PGM_ASSIGN_OR_RETURN(std::vector<storage::ObjectInfo> objects, o.store->list(prefix));
  // Segment numbers without the timeline: fixed-width upper-case hex compares as text.
  std::string from = first_wal.size() == 24 ? first_wal.substr(8) : std::string();
  uint64_t bytes = 0;
  for (const storage::ObjectInfo& object : objects) {
    std::string name = object.key.substr(prefix.size());
    if (name.find('/') != std::string::npos) {
      continue;
    }
    wal::WalFileInfo file = wal::classify_wal_file(name);
    bool wanted = file.kind == wal::WalFileKind::kHistory ||
                  (file.kind == wal::WalFileKind::kSegment && file.base.substr(8) >= from);
    if (!wanted) {
      continue;
    }
    PGM_TRY(storage::download_verified(*o.store, object.key, dest + "/" + name));
    bytes += object.size;
  }
  return bytes;
}

// Between begin_restore and select_restore_backup: the engine opened, the backup chosen,
// downloaded, verified, and the WAL staged when the position needs it. Returns the label.
tl::expected<std::string, StageFailure> stage(const DaemonContext& ctx, const json& request,
                                              OffsiteRestore& o, PreparedRestore& p) {
  auto failure = [](int32_t member, const std::string& message) {
    return tl::unexpected(StageFailure{member, message});
  };
  auto opened = open_storage(ctx, o.engine, *p.server);
  if (!opened) {
    return failure(mgmt::kOffsiteRestoreEngine, opened.error().message());
  }
  o.store = std::move(*opened);
  auto label = choose_backup(o, string_arg(request, mgmt::key::kBackup), p.position);
  if (!label) {
    return failure(member_of(label.error()), label.error().message());
  }
  // The restore would refuse a non-empty target only after the whole download.
  std::string target = fmt::format("{}/{}-{}", p.directory, o.server, *label);
  if (std::error_code ec; fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    return failure(
        mgmt::kOffsiteRestoreSetup,
        fmt::format("{} exists and is not empty: a restore never overwrites a directory", target));
  }
  std::string backup_dir = o.staging + "/backup/" + *label;
  if (auto made = io::make_directories(o.staging + "/backup", 0700); !made) {
    return failure(mgmt::kOffsiteRestoreSetup, made.error().message());
  }
  DownloadProgress progress(*p.state, progress_enabled(*ctx.config, *p.server));
  storage::Parallel parallel{transfer_workers(*ctx.config, *p.server),
                             [&] { return open_storage(ctx, o.engine, *p.server); }};
  auto stats = storage::download_backup(*o.store, o.server, *label, backup_dir, progress.callback(),
                                        parallel);
  if (!stats) {
    return failure(member_of(stats.error()),
                   fmt::format("download of backup {}: {}", *label, stats.error().message()));
  }
  o.downloaded += stats->bytes;
  if (auto verified = verify_staged(ctx, *p.server, backup_dir); !verified) {
    int32_t member = verified.error().code() == ErrorCode::kConfig ? mgmt::kOffsiteRestoreSetup
                                                                   : mgmt::kOffsiteRestoreCorrupted;
    return failure(member, fmt::format("backup {}: {}", *label, verified.error().message()));
  }
  if (p.position.wants_wal()) {
    auto info = backup::read_backup_info(backup_dir);
    if (!info) {
      return failure(mgmt::kOffsiteRestoreCorrupted, info.error().message());
    }
    p.wal_dir = o.staging + "/wal";
    auto wal_bytes = stage_wal(o, info->wal, p.wal_dir);
    if (!wal_bytes) {
      return failure(member_of(wal_bytes.error()),
                     fmt::format("download of WAL: {}", wal_bytes.error().message()));
    }
    o.downloaded += *wal_bytes;
  }
  return *label;
}

}  // namespace

CommandResult offsite_restore_command(const DaemonContext& ctx, Engine engine,
                                      const json& request) {
  RestoreCodes codes = restore_codes(engine);
  PreparedRestore p;
  if (auto failed = begin_restore(ctx, request, codes, p)) {
    return std::move(*failed);
  }
  OffsiteRestore o;
  o.engine = engine;
  o.server = p.server->name;
  std::string server_dir = ctx.config->base_dir + "/" + o.server;
  int32_t base = restore_base(engine);
  auto started = std::chrono::steady_clock::now();
  auto fail = [&](int32_t member, const std::string& cause) {
    std::string message = fmt::format("{}: {}", o.where(), cause);
    // A request naming no remote backup is the caller's mistake, like restore's "no such
    // backup": not an error of the daemon.
    if (member == mgmt::kOffsiteRestoreNoBackup) {
      log::warn("{}", message);
    } else {
      p.state->failed_operation_count.fetch_add(1);
      log::error("{} (peak_rss_kb={})", message, peak_rss_kb());
    }
    return CommandResult::failure(base + member, message, codes.workflow);
  };

  remove_stale_staging(server_dir);
  o.staging = fmt::format("{}/{}{}", server_dir, kStagingPrefix, ::getpid());
  if (auto made = io::make_directories(o.staging, 0700); !made) {
    return fail(mgmt::kOffsiteRestoreSetup, made.error().message());
  }
  ScopeExit cleanup([&o] {
    std::error_code ec;
    fs::remove_all(o.staging, ec);
    if (ec) {
      log::warn("remove {}: {}", o.staging, ec.message());
    }
  });
  log::info("{} of backup {} of server {} started (staging {})", codes.workflow,
            string_arg(request, mgmt::key::kBackup), o.server, o.staging);

  auto label = stage(ctx, request, o, p);
  if (!label) {
    return fail(label.error().member, label.error().message);
  }
  double download_seconds = seconds_since(started);
  if (auto failed = select_restore_backup(ctx, *label, o.staging + "/backup", codes, p)) {
    return std::move(*failed);
  }
  CommandResult result = execute_restore(ctx, request, codes, p);
  if (!result.ok) {
    return result;  // execute_restore logged and counted it
  }
  result.response["Engine"] = std::string(storage::engine_name(engine));
  result.response["DownloadedBytes"] = o.downloaded;
  log::info(
      "{} of backup {} of server {} done: downloaded {} bytes in {:.2f} s, {:.2f} s in all, "
      "peak_rss_kb={}",
      codes.workflow, *label, o.server, o.downloaded, download_seconds, seconds_since(started),
      peak_rss_kb());
  return result;
}

}  // namespace pgm::daemon
