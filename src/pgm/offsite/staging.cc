#include "pgm/offsite/staging.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/io/file.h"
#include "pgm/io/process.h"
#include "pgm/log/log.h"
#include "pgm/offsite/offsite.h"
#include "pgm/restore/leftovers.h"
#include "pgm/restore/verify.h"
#include "pgm/storage/transfer.h"
#include "pgm/wal/segment.h"

namespace pgm::offsite {

namespace fs = std::filesystem;
using storage::Engine;

namespace {

bool is_label(std::string_view id) {
  return id.size() == 14 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The download as the "starting" phase of a restore; cleared on every path (the restore
// that follows publishes itself).
class DownloadProgress {
 public:
  DownloadProgress(activity::RepositoryState& state, bool enabled)
      : guard_(state, activity::Operation::kRestore, activity::Phase::kStarting,
               activity::Activity::kRestore),
        enabled_(enabled) {}

  storage::TransferProgress callback() {
    return [this](uint64_t done, uint64_t total) {
      if (enabled_) {
        guard_.set_progress(done, total);
      }
    };
  }

 private:
  activity::ActivityGuard guard_;
  bool enabled_;
};

// One staging: the request, the opened engine.
struct Stager {
  const StageRequest& request;
  std::unique_ptr<storage::Storage> store;
  const std::string& server() const { return request.server->name; }
};

// The label `id` names among `labels`, the complete remote backups. Their backup.info files are
// fetched into <staging>/select/ so that restore::select_backup chooses exactly as a local
// restore does (valid backups only for keywords; a position's lsn/time/timeline bound).
Result<std::string> choose_backup(Stager& o, std::vector<std::string> labels) {
  const StageRequest& r = o.request;
  std::string_view id = r.id;
  const std::string engine(storage::engine_name(r.engine));
  if (is_label(id)) {
    if (std::find(labels.begin(), labels.end(), id) == labels.end()) {
      return make_error(ErrorCode::kNotFound, fmt::format("{}: no complete backup {} of server {}",
                                                          engine, id, o.server()));
    }
    labels = {std::string(id)};
  } else if (id != "oldest" && id != "newest" && id != "latest") {
    return make_error(
        ErrorCode::kNotFound,
        fmt::format("backup identifier '{}' is not a label, oldest, newest or latest", id));
  } else if (labels.empty()) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: no complete backup of server {}", engine, o.server()));
  }
  std::string select_root = r.staging + "/select";
  for (const std::string& label : labels) {
    std::string key = storage::backup_prefix(o.server(), label) + "backup.info";
    std::string dir = select_root + "/" + label;
    PGM_TRY(io::make_directories(dir, 0700));
    PGM_TRY(storage::download_verified(*o.store, key, dir + "/backup.info"));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<backup::BackupEntry> entries, backup::list_backups(select_root));
  auto chosen = restore::select_backup(entries, id, r.position, o.server());
  if (!chosen) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: {}", engine, chosen.error().message()));
  }
  return (*chosen)->label;
}

// Proves the staged copy as `verify` proves a repository backup: backup.info and
// backup.manifest against backup.sha512, every data file against the manifest.
Result<void> verify_staged(const StageRequest& r, const std::string& backup_dir) {
  PGM_ASSIGN_OR_RETURN(backup::BackupInfo info, backup::read_backup_info(backup_dir));
  restore::VerifyOptions v;
  v.backup_dir = backup_dir;
  v.info = info;
  v.key = r.key;
  v.workers = config::workers_for(*r.config, *r.server);
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
Result<uint64_t> stage_wal(Stager& o, const std::string& first_wal, const std::string& dest) {
  PGM_TRY(io::make_directories(dest, 0700));
  std::string prefix = remote_wal_prefix(o.server());
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

}  // namespace

Result<std::unique_ptr<storage::Storage>> open_storage(Engine engine, const config::Config& config,
                                                       const config::ServerConfig& server) {
  if (!storage::engine_built(engine)) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{}: this pgmoneta was built without the {} storage engine",
                                  storage::engine_name(engine), storage::engine_name(engine)));
  }
  return storage::open_engine(engine, config, server);
}

void remove_stale_staging(const std::string& server_dir) {
  std::error_code ec;
  for (fs::directory_iterator it(server_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.starts_with(kStagingPrefix)) {
      continue;
    }
    std::optional<pid_t> pid = io::parse_pid(std::string_view(name).substr(kStagingPrefix.size()));
    if (!pid || (*pid != ::getpid() && io::process_alive(*pid))) {
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

tl::expected<Staged, StageFailure> stage_remote_backup(const StageRequest& r) {
  auto failure = [](StageStep step, const Error& e, std::string message) {
    return tl::unexpected(StageFailure{step, e, std::move(message)});
  };
  Stager o{r, nullptr};
  auto opened = open_storage(r.engine, *r.config, *r.server);
  if (!opened) {
    return failure(StageStep::kEngine, opened.error(), opened.error().message());
  }
  o.store = std::move(*opened);
  // Listed once: the chain's ancestors are looked up in the same list.
  auto remote = storage::remote_backups(*o.store, o.server());
  if (!remote) {
    return failure(StageStep::kChoose, remote.error(), remote.error().message());
  }
  auto label = choose_backup(o, *remote);
  if (!label) {
    return failure(StageStep::kChoose, label.error(), label.error().message());
  }
  Staged staged;
  staged.label = *label;
  staged.backup_root = r.staging + "/backup";
  // The restore would refuse a non-empty target only after the whole download.
  std::string target = fmt::format("{}/{}-{}", r.directory, o.server(), *label);
  if (std::error_code ec; fs::exists(target, ec) && !fs::is_empty(target, ec) &&
                          !restore::clear_abandoned_restore(target)) {
    std::string message =
        fmt::format("{} exists and is not empty: a restore never overwrites a directory", target);
    return failure(StageStep::kSetup, Error(ErrorCode::kInvalidArgument, message), message);
  }
  std::string backup_dir = staged.backup_root + "/" + *label;
  if (auto made = io::make_directories(staged.backup_root, 0700); !made) {
    return failure(StageStep::kSetup, made.error(), made.error().message());
  }
  DownloadProgress progress(*r.state, config::progress_enabled(*r.config, *r.server));
  storage::Parallel parallel{transfer_workers(*r.config, *r.server),
                             [&] { return open_storage(r.engine, *r.config, *r.server); }};
  auto stats = storage::download_backup(*o.store, o.server(), *label, backup_dir,
                                        progress.callback(), parallel);
  if (!stats) {
    return failure(StageStep::kDownload, stats.error(),
                   fmt::format("download of backup {}: {}", *label, stats.error().message()));
  }
  staged.downloaded += stats->bytes;
  if (auto verified = verify_staged(r, backup_dir); !verified) {
    return failure(StageStep::kVerify, verified.error(),
                   fmt::format("backup {}: {}", *label, verified.error().message()));
  }
  // An incremental needs its chain: each ancestor is staged beside it the same way, and the
  // restore rebuilds from them as from a local repository.
  std::string at = *label;
  for (int depth = 0;; ++depth) {
    auto info = backup::read_backup_info(staged.backup_root + "/" + at);
    if (!info) {
      return failure(StageStep::kInfo, info.error(), info.error().message());
    }
    if (info->parent.empty()) {
      break;
    }
    const std::string parent = info->parent;
    if (std::error_code ec; depth > 10000 || fs::exists(staged.backup_root + "/" + parent, ec)) {
      std::string message = fmt::format("the chain of backup {} loops at {}", *label, parent);
      return failure(StageStep::kInfo, Error(ErrorCode::kCorruption, message), message);
    }
    if (std::find(remote->begin(), remote->end(), parent) == remote->end()) {
      Error e(ErrorCode::kNotFound, "no complete copy");
      return failure(StageStep::kDownload, e,
                     fmt::format("backup {} is incremental and its parent {} has no complete "
                                 "copy on {} ({}): the chain cannot be restored from there",
                                 at, parent, storage::engine_name(r.engine), e.message()));
    }
    auto parent_stats =
        storage::download_backup(*o.store, o.server(), parent, staged.backup_root + "/" + parent,
                                 progress.callback(), parallel);
    if (!parent_stats) {
      return failure(StageStep::kDownload, parent_stats.error(),
                     fmt::format("download of backup {} (parent of {}): {}", parent, at,
                                 parent_stats.error().message()));
    }
    staged.downloaded += parent_stats->bytes;
    if (auto verified = verify_staged(r, staged.backup_root + "/" + parent); !verified) {
      return failure(
          StageStep::kVerify, verified.error(),
          fmt::format("backup {} (parent of {}): {}", parent, at, verified.error().message()));
    }
    at = parent;
  }
  if (r.position.wants_wal()) {
    auto info = backup::read_backup_info(backup_dir);
    if (!info) {
      return failure(StageStep::kInfo, info.error(), info.error().message());
    }
    staged.wal_dir = r.staging + "/wal";
    auto wal_bytes = stage_wal(o, info->wal, staged.wal_dir);
    if (!wal_bytes) {
      return failure(StageStep::kWal, wal_bytes.error(),
                     fmt::format("download of WAL: {}", wal_bytes.error().message()));
    }
    staged.downloaded += *wal_bytes;
  }
  return staged;
}

}  // namespace pgm::offsite
