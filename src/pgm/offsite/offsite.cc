#include "pgm/offsite/offsite.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/storage/transfer.h"
#include "pgm/wal/segment.h"

namespace pgm::offsite {

using storage::Engine;

namespace {

// Backoff of an engine that failed: 5 s, 10 s, 20 s, ... capped at 60 s, so an outage or a
// wrong key is retried soon after it is mended without filling the log every pass.
constexpr int64_t kRetryFirstMs = 5000;
constexpr int64_t kRetryCapMs = 60000;

// Objects in flight per transfer at least (more when `workers` says so): remote services
// answer each request after a round trip, so a few requests at once hide the latency of the
// many small files of a backup. Each worker buffers at most one part (8 MiB).
constexpr int kTransferWorkers = 4;

size_t slot(Engine e) { return static_cast<size_t>(e); }

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& ch : out) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A /proc/self/status field in KiB ("VmRSS", "VmHWM"); -1 when unreadable.
long status_kib(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0 && line.size() > field.size() && line[field.size()] == ':') {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so the peak logged after an upload is the
// upload's, not the backup's that ran before it in the same process.
void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

bool due(const activity::RepositoryState* state, Engine e) {
  return state == nullptr ||
         state->offsite_retry_after_ms[slot(e)].load() <= activity::wall_clock_ms();
}

void note_outcome(activity::RepositoryState* state, Engine e, bool ok) {
  if (state == nullptr) {
    return;
  }
  if (ok) {
    state->offsite_failures[slot(e)].store(0);
    state->offsite_retry_after_ms[slot(e)].store(0);
    return;
  }
  int failures = std::min(state->offsite_failures[slot(e)].fetch_add(1) + 1, 16);
  int64_t delay = std::min(kRetryCapMs, kRetryFirstMs << std::min(failures - 1, 10));
  state->offsite_retry_after_ms[slot(e)].store(activity::wall_clock_ms() + delay);
}

bool stored_on(const backup::BackupInfo& info, Engine e) {
  const std::string* v = backup::extra_key(info, stored_key(e));
  return v != nullptr && !v->empty();
}

void set_elapsed(backup::BackupInfo& info, Engine e, double seconds) {
  switch (e) {
    case Engine::kSsh:
      info.remote_ssh_elapsed = backup::Seconds(seconds);
      break;
    case Engine::kS3:
      info.remote_s3_elapsed = backup::Seconds(seconds);
      break;
    case Engine::kAzure:
      info.remote_azure_elapsed = backup::Seconds(seconds);
      break;
  }
}

std::string backup_dir_of(const OffsiteContext& ctx, const config::ServerConfig& s,
                          const std::string& label) {
  return backup::backup_root(ctx.config->base_dir, s.name) + "/" + label;
}

// <base_dir>/<server>/.offsite/<engine>.wal: the last WAL segment the engine has stored.
std::string marker_path(const OffsiteContext& ctx, const config::ServerConfig& s, Engine e) {
  return fmt::format("{}/{}/.offsite/{}.wal", ctx.config->base_dir, s.name, engine_name(e));
}

std::string read_marker(const OffsiteContext& ctx, const config::ServerConfig& s, Engine e) {
  auto text = io::read_file(marker_path(ctx, s, e));
  if (!text) {
    return {};
  }
  std::string name = *text;
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) {
    name.pop_back();
  }
  return name;
}

Result<void> write_marker(const OffsiteContext& ctx, const config::ServerConfig& s, Engine e,
                          const std::string& segment) {
  std::string path = marker_path(ctx, s, e);
  PGM_TRY(io::make_directories(io::parent_directory(path), 0700));
  return io::write_file_atomic(path, segment + "\n", 0600);
}

struct LocalWal {
  std::vector<std::pair<std::string, std::string>> segments;  // (base, file name), by base
  std::map<uint32_t, std::string> history;                    // timeline -> file name
  bool ambiguous = false;  // two files of one segment (one is being compressed): wait
  std::string ambiguous_base;
};

LocalWal local_wal(const std::string& dir) {
  LocalWal w;
  auto names = io::list_directory(dir);
  if (!names) {
    return w;
  }
  std::map<std::string, std::vector<std::string>> by_base;
  for (const std::string& name : *names) {
    wal::WalFileInfo f = wal::classify_wal_file(name);
    if (f.kind == wal::WalFileKind::kSegment) {
      by_base[f.base].push_back(name);
    } else if (f.kind == wal::WalFileKind::kHistory) {
      w.history[f.tli.value()] = name;
    }
  }
  for (auto& [base, files] : by_base) {
    if (files.size() > 1 && !w.ambiguous) {
      w.ambiguous = true;
      w.ambiguous_base = base;
    }
    w.segments.emplace_back(base, files.front());
  }
  return w;
}

uint32_t timeline_of(const std::string& base) {
  return base.size() == 24
             ? static_cast<uint32_t>(std::strtoul(base.substr(0, 8).c_str(), nullptr, 16))
             : 0;
}

Result<void> put_verified_file(storage::Storage& engine, const std::string& key,
                               const std::string& path) {
  PGM_ASSIGN_OR_RETURN(std::string sha, storage::sha512_of_file(path));
  return engine.put_file(key, path, sha);
}

// Ships the WAL files after the engine's marker, in name order; the marker moves after each
// stored file. A history file goes up before the first segment of its timeline.
Result<size_t> ship_wal(const OffsiteContext& ctx, const config::ServerConfig& s, Engine e,
                        const LocalWal& w, const std::string& marker,
                        const std::function<Result<storage::Storage*>()>& engine) {
  std::string dir = config::wal_directory(*ctx.config, s);
  uint32_t shipped_tli = timeline_of(marker);
  size_t count = 0;
  for (const auto& [base, file] : w.segments) {
    if (base <= marker) {
      continue;
    }
    if (w.ambiguous && base >= w.ambiguous_base) {
      break;  // finish_segment is replacing this file; the next pass takes it
    }
    PGM_ASSIGN_OR_RETURN(storage::Storage * remote, engine());
    uint32_t tli = timeline_of(base);
    if (tli != shipped_tli) {
      if (auto h = w.history.find(tli); h != w.history.end()) {
        PGM_TRY(
            put_verified_file(*remote, remote_wal_key(s.name, h->second), dir + "/" + h->second));
      }
      shipped_tli = tli;
    }
    const std::string path = dir + "/" + file;
    if (auto put = put_verified_file(*remote, remote_wal_key(s.name, file), path); !put) {
      // Listed plain, compressed since: the receiver replaced the file (a rename, then the
      // plain one removed). Nothing is lost; the next pass ships it under its new name.
      if (std::error_code ec; !std::filesystem::exists(path, ec) && !ec) {
        log::debug("offsite: {} of server {} was replaced while shipping; next pass", file, s.name);
        break;
      }
      return tl::unexpected(put.error());
    }
    PGM_TRY(write_marker(ctx, s, e, base));
    ++count;
  }
  return count;
}

// Uploads one backup to one engine and records it in backup.info.
OffsiteCopy copy_to(const OffsiteContext& ctx, const config::ServerConfig& s,
                    const std::string& label, Engine e, storage::Storage* opened) {
  OffsiteCopy copy;
  copy.engine = e;
  std::string dir = backup_dir_of(ctx, s, label);
  auto info = backup::read_backup_info(dir);
  if (!info) {
    copy.error = fmt::format("{}: {}", engine_name(e), info.error().message());
    return copy;
  }
  if (stored_on(*info, e)) {
    copy.stored = true;  // already there
    return copy;
  }
  reset_peak_rss();
  long rss_start = status_kib("VmRSS");
  auto started = std::chrono::steady_clock::now();
  std::unique_ptr<storage::Storage> owned;
  if (opened == nullptr) {
    auto made = storage::open_engine(e, *ctx.config, s);
    if (!made) {
      copy.error = made.error().message();
    } else {
      owned = std::move(*made);
      opened = owned.get();
    }
  }
  if (opened != nullptr) {
    storage::Parallel parallel{transfer_workers(*ctx.config, s),
                               [&] { return storage::open_engine(e, *ctx.config, s); }};
    // What the engine holds under the label without a record here is a partial upload or an
    // older version of the backup (a rollup rewrote it): cleared first, so no stale object
    // outlives the new copy.
    auto cleared = storage::remove_remote_backup(*opened, s.name, label);
    auto stats = cleared ? storage::upload_backup(*opened, dir, s.name, label, {}, parallel)
                         : tl::unexpected(cleared.error());
    if (!stats) {
      copy.error = stats.error().message();
    } else {
      copy.bytes = stats->bytes;
    }
  }
  copy.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (copy.error.empty()) {
    // Re-read: the upload took a while and nothing else may write backup.info under the
    // repository lock, but the record must be the file's current one.
    auto current = backup::read_backup_info(dir);
    if (!current) {
      copy.error = fmt::format("{}: {}", engine_name(e), current.error().message());
    } else {
      backup::set_extra_key(*current, stored_key(e), utc_now());
      set_elapsed(*current, e, copy.elapsed);
      if (auto written = backup::write_backup_info(dir, *current); !written) {
        copy.error = fmt::format("{}: record the copy in backup.info: {}", engine_name(e),
                                 written.error().message());
      }
    }
  }
  copy.stored = copy.error.empty();
  note_outcome(ctx.state_of(s), e, copy.stored);
  if (copy.stored) {
    log::info(
        "offsite: backup {} of server {} stored on {}: {} bytes in {:.2f} s, rss_start_kb={} "
        "peak_rss_kb={}",
        label, s.name, engine_name(e), copy.bytes, copy.elapsed, rss_start, status_kib("VmHWM"));
  } else {
    log::error("offsite: backup {} of server {} not stored on {}: {}", label, s.name,
               engine_name(e), copy.error);
  }
  return copy;
}

}  // namespace

activity::RepositoryState* OffsiteContext::state_of(const config::ServerConfig& server) const {
  for (size_t i = 0; i < config->servers.size() && i < states.size(); ++i) {
    if (config->servers[i].name == server.name) {
      return states[i];
    }
  }
  return nullptr;
}

int transfer_workers(const config::Config& config, const config::ServerConfig& server) {
  return std::max(kTransferWorkers, config::workers_for(config, server));
}

std::string remote_wal_prefix(const std::string& server) { return server + "/wal/"; }

std::string remote_wal_key(const std::string& server, const std::string& file) {
  return remote_wal_prefix(server) + file;
}

std::string stored_key(Engine engine) { return "STORAGE_" + upper(engine_name(engine)); }

std::vector<OffsiteCopy> copy_backup_offsite(const OffsiteContext& ctx,
                                             const config::ServerConfig& server,
                                             const std::string& label) {
  std::vector<OffsiteCopy> copies;
  for (Engine e : storage::remote_engines(*ctx.config)) {
    copies.push_back(copy_to(ctx, server, label, e, nullptr));
  }
  return copies;
}

Result<void> remove_backup_offsite(const OffsiteContext& ctx, const config::ServerConfig& server,
                                   const std::string& label) {
  auto info = backup::read_backup_info(backup_dir_of(ctx, server, label));
  for (Engine e : storage::remote_engines(*ctx.config)) {
    // A copy backup.info records must go; one it does not record (an upload that never
    // finished, an engine that never answered) is removed on a best-effort basis, so an
    // engine that is down or misconfigured cannot keep local backups from being deleted.
    bool recorded = info && stored_on(*info, e);
    auto removed = [&]() -> Result<void> {
      PGM_ASSIGN_OR_RETURN(auto engine, storage::open_engine(e, *ctx.config, server));
      return storage::remove_remote_backup(*engine, server.name, label);
    }();
    if (removed) {
      log::info("offsite: backup {} of server {} removed from {}", label, server.name,
                engine_name(e));
      continue;
    }
    if (recorded) {
      return make_error(removed.error().code(),
                        fmt::format("the copy on {} could not be removed ({}); the local backup "
                                    "is kept",
                                    engine_name(e), removed.error().message()));
    }
    log::warn("offsite: backup {} of server {}: removing a possible partial copy from {}: {}",
              label, server.name, engine_name(e), removed.error().message());
  }
  return {};
}

std::string oldest_unshipped_wal(const OffsiteContext& ctx, const config::ServerConfig& server) {
  std::vector<Engine> engines = storage::remote_engines(*ctx.config);
  if (engines.empty()) {
    return {};
  }
  LocalWal w = local_wal(config::wal_directory(*ctx.config, server));
  std::string oldest;
  for (Engine e : engines) {
    std::string marker = read_marker(ctx, server, e);
    for (const auto& entry : w.segments) {
      if (entry.first > marker) {
        if (oldest.empty() || entry.first < oldest) {
          oldest = entry.first;
        }
        break;
      }
    }
  }
  return oldest;
}

Result<size_t> prune_remote_wal(const OffsiteContext& ctx, const config::ServerConfig& server,
                                const std::string& oldest_segment) {
  if (oldest_segment.size() != 24) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a WAL segment name", oldest_segment));
  }
  size_t removed = 0;
  std::string prefix = remote_wal_prefix(server.name);
  for (Engine e : storage::remote_engines(*ctx.config)) {
    PGM_ASSIGN_OR_RETURN(auto engine, storage::open_engine(e, *ctx.config, server));
    PGM_ASSIGN_OR_RETURN(auto objects, engine->list(prefix));
    std::vector<std::string> old;
    for (const storage::ObjectInfo& o : objects) {
      wal::WalFileInfo f = wal::classify_wal_file(o.key.substr(prefix.size()));
      if (f.kind == wal::WalFileKind::kSegment && f.base.substr(8) < oldest_segment.substr(8)) {
        old.push_back(o.key);
      }
    }
    if (!old.empty()) {
      PGM_TRY(engine->remove(old));
      log::info("retention: server {}: {} WAL file(s) before {} removed from {}", server.name,
                old.size(), oldest_segment, engine_name(e));
    }
    removed += old.size();
  }
  return removed;
}

void run_offsite(const OffsiteContext& ctx) {
  const config::Config& c = *ctx.config;
  std::vector<Engine> engines = storage::remote_engines(c);
  if (engines.empty()) {
    return;
  }
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const config::ServerConfig& s = c.servers[i];
    activity::RepositoryState* state = i < ctx.states.size() ? ctx.states[i] : nullptr;
    if (state == nullptr) {
      continue;  // no lock to take: the pass needs the shared state
    }
    LocalWal w = local_wal(config::wal_directory(c, s));
    for (Engine e : engines) {
      if (!due(state, e)) {
        continue;
      }
      // The engine is opened only when there is something to send (SFTP connects on open).
      std::unique_ptr<storage::Storage> remote;
      std::optional<Error> open_error;
      auto engine = [&]() -> Result<storage::Storage*> {
        if (!remote && !open_error) {
          auto made = storage::open_engine(e, c, s);
          if (made) {
            remote = std::move(*made);
          } else {
            open_error = made.error();
          }
        }
        if (open_error) {
          return tl::unexpected(*open_error);
        }
        return remote.get();
      };

      std::string marker = read_marker(ctx, s, e);
      auto shipped = ship_wal(ctx, s, e, w, marker, engine);
      if (!shipped) {
        note_outcome(state, e, false);
        log::error("offsite: WAL of server {} not shipped to {}: {}", s.name, engine_name(e),
                   shipped.error().message());
        continue;
      }
      if (*shipped > 0) {
        note_outcome(state, e, true);
        log::debug("offsite: {} WAL file(s) of server {} shipped to {}", *shipped, s.name,
                   engine_name(e));
      }

      activity::RepositoryLock lock(*state);
      if (!lock.locked()) {
        continue;  // a backup, restore or retention runs; the next pass uploads
      }
      auto entries = backup::list_backups(backup::backup_root(c.base_dir, s.name));
      if (!entries) {
        continue;
      }
      for (const backup::BackupEntry& entry : *entries) {
        if (!entry.valid() || stored_on(*entry.info, e)) {
          continue;
        }
        auto opened = engine();
        if (!opened) {
          note_outcome(state, e, false);
          log::error("offsite: backup {} of server {} not stored on {}: {}", entry.label, s.name,
                     engine_name(e), opened.error().message());
          break;
        }
        OffsiteCopy copy = copy_to(ctx, s, entry.label, e, *opened);
        if (!copy.stored) {
          break;  // the engine is failing: back off rather than try every backup
        }
      }
    }
  }
}

}  // namespace pgm::offsite
