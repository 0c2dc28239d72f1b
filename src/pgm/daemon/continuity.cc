#include "pgm/daemon/continuity.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/backup/repository.h"
#include "pgm/io/file.h"
#include "pgm/io/file_system.h"
#include "pgm/log/log.h"
#include "pgm/wal/continuity.h"
#include "pgm/wal/segment.h"
#include "pgm/xlog/commit_scan.h"

namespace pgm::daemon {

namespace {

// scan_stored_segment() with the AES mode of an .aes file: its name does not record the mode,
// and `encryption` may have changed since it was written. The configured mode is tried first
// (AES-256-GCM, restore's default, when encryption is off now), then the others: only a file
// no mode decodes is corrupt.
xlog::SegmentScan scan_segment(const std::string& path, crypto::AesMode configured,
                               const crypto::MasterKey* key, bool complete) {
  if (!wal::classify_wal_file(path.substr(path.rfind('/') + 1)).encrypted) {
    return xlog::scan_stored_segment(io::posix_file_system(), path, crypto::AesMode::kNone, nullptr,
                                     complete);
  }
  const crypto::AesMode first =
      configured != crypto::AesMode::kNone ? configured : crypto::AesMode::kAes256Gcm;
  xlog::SegmentScan scan =
      xlog::scan_stored_segment(io::posix_file_system(), path, first, key, complete);
  for (crypto::AesMode other :
       {crypto::AesMode::kAes256Gcm, crypto::AesMode::kAes192Gcm, crypto::AesMode::kAes128Gcm}) {
    if (scan.problem.empty() || scan.unreadable) {
      break;
    }
    if (other != first) {
      xlog::SegmentScan again =
          xlog::scan_stored_segment(io::posix_file_system(), path, other, key, complete);
      if (again.problem.empty()) {
        scan = again;
      }
    }
  }
  return scan;
}

void raise_commit(ServerState& state, std::optional<int64_t> unix_us) {
  if (!unix_us) {
    return;
  }
  int64_t known = state.wal_stored_commit_us.load();
  while (*unix_us > known && !state.wal_stored_commit_us.compare_exchange_weak(known, *unix_us)) {
  }
}

}  // namespace

std::optional<wal::SegmentId> oldest_backup_start(const config::Config& c,
                                                  const config::ServerConfig& s,
                                                  uint64_t seg_size) {
  auto entries = backup::list_backups(backup::backup_root(c.base_dir, s.name));
  if (!entries) {
    return std::nullopt;
  }
  for (const backup::BackupEntry& e : *entries) {
    if (!e.valid()) {
      continue;
    }
    auto id = wal::parse_segment_name(backup::first_wal_segment(*e.info, seg_size), seg_size);
    if (id) {
      return *id;
    }
  }
  return std::nullopt;
}

void check_continuity(const DaemonContext& ctx, size_t index) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = c.servers[index];
  ServerState& state = ctx.shared->servers[index];
  const uint64_t seg_size = state.snapshot().wal_segment_size;
  if (!wal::is_valid_segment_size(seg_size)) {
    return;  // never probed: segment names cannot be read yet
  }
  const std::string dir = config::wal_directory(c, s);
  std::vector<std::string> names;
  if (auto listed = io::list_directory(dir); listed) {
    names = std::move(*listed);
  } else if (listed.error().code() != ErrorCode::kNotFound) {
    log::warn("server {}: WAL continuity: {}", s.name, listed.error().message());
    return;
  }
  wal::StoredSegments stored = wal::classify_segments(names, seg_size);
  std::optional<wal::SegmentId> start = oldest_backup_start(c, s, seg_size);
  if (!start) {
    // No valid backup: continuity from the oldest segment stored.
    if (!stored.complete.empty()) {
      start = stored.complete.front().id;
    } else if (!stored.partial.empty()) {
      start = stored.partial.front().id;
    }
  }

  auto publish = [&](const std::optional<std::string>& missing) {
    std::string name;
    std::string problem;
    auto [bad_name, bad_problem] = state.wal_bad();
    const uint64_t bad = state.wal_bad_segno.load();
    uint64_t missing_segno = UINT64_MAX;
    if (missing) {
      if (auto id = wal::parse_segment_name(*missing, seg_size)) {
        missing_segno = id->segno;
      }
    }
    if (missing_segno != UINT64_MAX && missing_segno <= bad) {
      name = *missing;
      problem = "missing";
    } else if (bad != UINT64_MAX) {
      name = bad_name;
      problem = bad_problem;
    }
    ContinuitySnapshot before = state.continuity_snapshot();
    state.set_wal_gap(name, problem);
    state.wal_checked_epoch.store(static_cast<int64_t>(::time(nullptr)));
    if (!name.empty() && (name != before.first_missing || problem != before.problem)) {
      log::error("server {}: WAL is not contiguous: segment {} {} (stored WAL from {} on)", s.name,
                 name, problem == "missing" ? "is missing" : "is corrupt: " + problem,
                 start ? wal::segment_name_for(start->tli, start->segno, seg_size) : "?");
    } else if (name.empty() && before.gap) {
      log::info("server {}: WAL is contiguous again (segment {} was {})", s.name,
                before.first_missing, before.problem == "missing" ? "missing" : "corrupt");
    }
  };

  if (!start) {
    publish(std::nullopt);
    return;
  }
  // A corrupt segment retention has since removed no longer counts.
  if (uint64_t bad = state.wal_bad_segno.load(); bad != UINT64_MAX && bad < start->segno) {
    state.wal_bad_segno.store(UINT64_MAX);
    state.set_wal_bad("", "");
  }
  // Names first (cheap): a deleted segment shows at once, before any decoding.
  std::optional<std::string> missing =
      wal::first_missing_segment(stored, start->segno, start->tli, seg_size);
  publish(missing);

  // Complete segments not decoded yet, each once.
  const crypto::MasterKey* key = ctx.master_key.get();
  const uint64_t from = std::max(state.wal_checked_below.load(), start->segno);
  uint64_t checked_below = from;
  for (const wal::StoredSegments::File& f : stored.complete) {
    if (f.id.segno < from) {
      continue;
    }
    if (wal::classify_wal_file(f.name).encrypted && key == nullptr) {
      checked_below = f.id.segno + 1;  // no key to read it with: its presence is all we check
      continue;
    }
    xlog::SegmentScan scan = scan_segment(dir + "/" + f.name, c.encryption, key, true);
    if (scan.unreadable) {
      break;  // renamed under us (compressed meanwhile): next time
    }
    if (!scan.problem.empty() && f.id.segno < state.wal_bad_segno.load()) {
      state.wal_bad_segno.store(f.id.segno);
      state.set_wal_bad(wal::segment_name_for(f.id.tli, f.id.segno, seg_size), scan.problem);
    }
    raise_commit(state, scan.newest_commit_unix_us);
    checked_below = f.id.segno + 1;
  }
  state.wal_checked_below.store(std::max(state.wal_checked_below.load(), checked_below));
  // The segment being written: its commits so far (an unfinished tail is no finding).
  if (!stored.partial.empty()) {
    const wal::StoredSegments::File& newest = stored.partial.back();
    xlog::SegmentScan scan = scan_segment(dir + "/" + newest.name, c.encryption, key, false);
    raise_commit(state, scan.newest_commit_unix_us);
  }
  publish(missing);
}

int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> rpo_seconds(const ContinuitySnapshot& c, uint64_t flushed_lsn,
                                   int64_t now_unix_us) {
  if (c.checked_epoch == 0 || c.server_lsn == 0) {
    return std::nullopt;
  }
  if (flushed_lsn >= c.server_lsn) {
    return 0;
  }
  if (c.server_commit_us != 0 && c.server_commit_us <= c.stored_commit_us) {
    return 0;
  }
  // Unstored WAL was written after the newest commit stored here, and after the previous probe
  // when what is stored reaches what the server had then.
  int64_t since = c.stored_commit_us;
  if (c.prev_server_lsn != 0 && flushed_lsn >= c.prev_server_lsn) {
    since = std::max(since, c.prev_server_lsn_us);
  }
  if (since == 0) {
    return std::nullopt;
  }
  return std::max<int64_t>(0, (now_unix_us - since) / 1000000);
}

}  // namespace pgm::daemon
