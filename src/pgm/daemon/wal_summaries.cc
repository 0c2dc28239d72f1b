#include "pgm/daemon/wal_summaries.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "pgm/daemon/continuity.h"
#include "pgm/io/file.h"
#include "pgm/io/file_system.h"
#include "pgm/log/log.h"
#include "pgm/wal/segment.h"
#include "pgm/walsummary/segment_summary.h"
#include "pgm/walsummary/summary_file.h"

namespace pgm::daemon {
namespace {

// Summaries are made a few segments a probe at most, so that a large backlog (the first run
// on an old repository) spreads over probes instead of holding the probe child for minutes.
constexpr size_t kMaxSegmentsPerRun = 256;

struct StoredSegment {
  std::string name;  // the file's name as stored
  bool complete = false;
};

// Stored WAL files by (segment number, timeline): the complete file when there is one, else
// the partial one.
using StoredMap = std::map<std::pair<wal::SegmentNo, uint32_t>, StoredSegment>;

StoredMap stored_segments(const std::vector<std::string>& names, uint64_t seg_size) {
  StoredMap stored;
  for (const std::string& name : names) {
    const wal::WalFileInfo info = wal::classify_wal_file(name);
    const bool complete = info.kind == wal::WalFileKind::kSegment;
    if (!complete && info.kind != wal::WalFileKind::kPartial) {
      continue;
    }
    auto id = wal::parse_segment_name(info.base, seg_size);
    if (!id) {
      continue;
    }
    StoredSegment& s = stored[{id->segno, id->tli.value()}];
    if (s.name.empty() || (complete && !s.complete)) {
      s = StoredSegment{name, complete};
    }
  }
  return stored;
}

}  // namespace

void write_wal_summaries(const DaemonContext& ctx, size_t index) {
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = c.servers[index];
  const uint64_t seg_size = ctx.shared->servers[index].snapshot().wal_segment_size;
  if (!wal::is_valid_segment_size(seg_size)) {
    return;  // never probed: segment names cannot be read yet
  }
  const std::string wal_dir = config::wal_directory(c, s);
  const std::string dir = c.base_dir + "/" + s.name + "/summaries";
  auto names = io::list_directory(wal_dir);
  if (!names) {
    return;  // nothing received yet
  }
  const StoredMap stored = stored_segments(*names, seg_size);
  if (stored.empty()) {
    return;
  }
  if (auto made = io::make_directories(dir, 0700); !made) {
    log::warn("server {}: WAL summaries: {}", s.name, made.error().message());
    return;
  }
  std::vector<std::string> summaries;
  if (auto listed = io::list_directory(dir); listed) {
    summaries = std::move(*listed);
  }
  // Where to go on from: after the newest summary; else from the oldest valid backup's start.
  std::optional<wal::SegmentNo> from;
  const wal::SegmentNo oldest_stored = stored.begin()->first.first;
  bool removed = false;
  for (const std::string& name : summaries) {
    auto range = walsummary::parse_summary_file_name(name);
    if (!range) {
      continue;
    }
    // The segment its end LSN falls in: the one after the summarized segment.
    const wal::SegmentNo end = wal::segment_number(range->end, seg_size);
    if (end <= oldest_stored) {
      // Its segment is no longer stored (retention removed it): so goes its summary.
      removed |= ::unlink((dir + "/" + name).c_str()) == 0;
      continue;
    }
    from = std::max(from.value_or(0), end);
  }
  if (removed) {
    (void)io::fsync_directory(dir);
  }
  if (!from) {
    auto backup_start = oldest_backup_start(c, s, seg_size);
    from = backup_start ? backup_start->segno : oldest_stored;
  }

  crypto::AesMode mode =
      c.encryption != crypto::AesMode::kNone ? c.encryption : crypto::AesMode::kAes256Gcm;
  size_t made = 0;
  for (auto it = stored.lower_bound({*from, 0}); it != stored.end() && made < kMaxSegmentsPerRun;
       ++it) {
    const auto [segno, tli] = it->first;
    if (!it->second.complete) {
      break;  // the segment being received
    }
    // The following segments of the same timeline, for a last record that continues.
    walsummary::SegmentSource source;
    source.path = wal_dir + "/" + it->second.name;
    source.mode = mode;
    source.key = ctx.master_key.get();
    for (wal::SegmentNo next = segno + 1; next <= segno + 2; ++next) {
      auto n = stored.find({next, tli});
      if (n == stored.end()) {
        break;
      }
      source.after.push_back(wal_dir + "/" + n->second.name);
    }
    walsummary::BlockRefTable table;
    auto range = walsummary::summarize_stored_segment(io::posix_file_system(), source, table);
    if (!range && range.error().code() == ErrorCode::kNotFound) {
      break;  // renamed since the listing (compressed or encrypted meanwhile): next probe
    }
    if (!range) {
      log::warn("server {}: no WAL summary for segment {}: {}", s.name, it->second.name,
                range.error().message());
      continue;
    }
    if (!range->has_value()) {
      break;  // its last record ends in a segment not stored yet: next probe
    }
    if (auto written = walsummary::write_summary_file(dir, **range, table); !written) {
      log::warn("server {}: WAL summaries: {}", s.name, written.error().message());
      return;
    }
    ++made;
  }
  if (made > 0) {
    log::debug("server {}: {} WAL summaries written", s.name, made);
  }
}

}  // namespace pgm::daemon
