// The operator's status page served at "/" of the metrics port: one self-contained HTML5
// document (inline CSS, no JavaScript, no external resources; refreshes itself every 30 s)
// showing pgmoneta's version, uptime and state, the disk space of base_dir, a servers table
// (online, role, version, WAL streaming, current WAL file, lag, running operation and
// progress) and, per server, its retention, workspace space, last backups and proven
// restores, with a link to /metrics. A pure function of the snapshot (ages are relative to
// snapshot.now_epoch); every text from the snapshot is HTML-escaped. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pgm/metrics/snapshot.h"

namespace pgm::metrics {

inline constexpr const char* kStatusPageContentType = "text/html; charset=utf-8";

// At most this many backups are listed per server (newest first); the rest are counted.
inline constexpr size_t kStatusPageBackups = 20;

std::string render_status_page(const MetricsSnapshot& snapshot);

// 1536 -> "1.5 KiB"; below 1 KiB in bytes ("512 B").
std::string human_bytes(uint64_t bytes);
// 42 -> "42 s", 7200 -> "2 h", 3 days -> "3 d"; one unit, rounded down.
std::string human_duration(int64_t seconds);

}  // namespace pgm::metrics
