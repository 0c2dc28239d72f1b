#include "pgm/metrics/status_page.h"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "pgm/activity/names.h"
#include "pgm/core/markup.h"

namespace pgm::metrics {

using core::escape_markup;

namespace {

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d2733;background:#f7f8fa}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.5em 0 .4em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;background:#fff;margin:.3em 0;font-size:.92em}
th,td{border:1px solid #d5dae1;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.muted{color:#6e7781}
.bar{display:inline-block;width:16em;height:.8em;background:#e3e7ec;border-radius:.4em;overflow:hidden;vertical-align:middle}
.bar span{display:block;height:100%;background:#3b82f6}.bar span.full{background:#cf222e}
header p,section p{margin:.2em 0}footer{margin-top:2em;font-size:.85em}code{font-size:.95em}
)";

std::string yes_no(bool value) {
  return value ? R"(<span class="ok">&#10003;</span>)" : R"(<span class="bad">&#10007;</span>)";
}

// "2026-01-26 09:51:29 UTC"; empty for 0.
std::string utc_time(int64_t epoch) {
  if (epoch <= 0) {
    return {};
  }
  auto t = static_cast<time_t>(epoch);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr) {
    return {};
  }
  char buf[32];
  size_t n = ::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return {buf, n};
}

std::string ago(int64_t now, int64_t then) {
  if (then <= 0) {
    return R"(<span class="muted">unknown</span>)";
  }
  if (now < then) {
    return "just now";
  }
  return human_duration(now - then) + " ago";
}

// A percentage bar; `fraction` in [0, 1].
std::string bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  return fmt::format(R"(<span class="bar"><span{} style="width:{:.1f}%"></span></span>)",
                     fraction >= 0.9 ? R"( class="full")" : "", fraction * 100.0);
}

std::string space_line(const char* what, uint64_t used, const SpaceSnapshot& space) {
  double fraction = space.total > 0
                        ? static_cast<double>(space.total - std::min(space.free, space.total)) /
                              static_cast<double>(space.total)
                        : 0.0;
  return fmt::format("<p>{}: {} {} free of {}{}</p>\n", what, bar(fraction),
                     human_bytes(space.free), human_bytes(space.total),
                     used > 0
                         ? fmt::format(" &middot; {} used by the repository", human_bytes(used))
                         : std::string());
}

std::string retention_text(const RetentionSnapshot& r) {
  std::vector<std::string> parts;
  if (r.days) {
    parts.push_back(fmt::format("{} days", *r.days));
  }
  if (r.weeks) {
    parts.push_back(fmt::format("{} weeks", *r.weeks));
  }
  if (r.months) {
    parts.push_back(fmt::format("{} months", *r.months));
  }
  if (r.years) {
    parts.push_back(fmt::format("{} years", *r.years));
  }
  if (parts.empty()) {
    return "none (backups are kept)";
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out += i == 0 ? "" : ", ";
    out += parts[i];
  }
  return out;
}

std::string activity(const ServerMetrics& s, int64_t now) {
  std::string out;
  if (s.progress) {
    const ProgressSnapshot& p = *s.progress;
    out = escape_markup(p.operation);
    if (!p.phase.empty()) {
      out += fmt::format(" ({})", escape_markup(p.phase));
    }
    if (p.total > 0) {
      double fraction = static_cast<double>(p.done) / static_cast<double>(p.total);
      out += fmt::format(" {} {:.1f}%", bar(fraction), 100.0 * std::min(fraction, 1.0));
    } else {
      out += fmt::format(" {}", human_bytes(p.done));
    }
    if (p.started_epoch_ms > 0) {
      out += fmt::format(", started {}", ago(now, p.started_epoch_ms / 1000));
    }
    return out;
  }
  using activity::Activity;
  const std::pair<bool, Activity> flags[] = {{s.active_backup, Activity::kBackup},
                                             {s.active_restore, Activity::kRestore},
                                             {s.active_archive, Activity::kArchive},
                                             {s.active_delete, Activity::kDelete},
                                             {s.active_retention, Activity::kRetention}};
  for (const auto& [active, name] : flags) {
    if (active) {
      out += out.empty() ? "" : ", ";
      out += activity::activity_name(name);
    }
  }
  return out.empty() ? R"(<span class="muted">idle</span>)" : out;
}

const BackupSnapshot* newest_valid(const ServerMetrics& s) {
  const BackupSnapshot* newest = nullptr;
  for (const BackupSnapshot& b : s.backups) {
    if (b.valid && (newest == nullptr || b.label > newest->label)) {
      newest = &b;
    }
  }
  return newest;
}

int64_t backup_end(const BackupSnapshot& b) {
  return b.start_epoch > 0 ? b.start_epoch + static_cast<int64_t>(b.elapsed_seconds) : 0;
}

std::string proven_cell(const ServerMetrics& s, int64_t now) {
  if (s.proven_restore_ok < 0) {
    return R"(<span class="muted">none yet</span>)";
  }
  std::string out = s.proven_restore_ok == 1 ? R"(<span class="ok">&#10003; ok</span>)"
                                             : R"(<span class="bad">&#10007; failed</span>)";
  out += fmt::format(" {}", ago(now, s.proven_restore_epoch));
  if (!s.proven_restore_label.empty()) {
    out += fmt::format(" (backup {})", escape_markup(s.proven_restore_label));
  }
  return out;
}

// "contiguous", or the first missing (or corrupt) segment in red.
std::string continuity_cell(const ServerMetrics& s) {
  if (!s.wal_checked) {
    return R"(<span class="muted">not checked yet</span>)";
  }
  if (!s.wal_gap) {
    return R"(<span class="ok">&#10003; contiguous</span>)";
  }
  return fmt::format(R"(<span class="bad">&#10007; gap at <code>{}</code> ({})</span>)",
                     escape_markup(s.wal_first_missing_segment), escape_markup(s.wal_gap_problem));
}

void servers_table(std::string& out, const MetricsSnapshot& snap) {
  out +=
      "<table>\n<tr><th>Server</th><th>Online</th><th>Role</th><th>PostgreSQL</th>"
      "<th>WAL streaming</th><th>Current WAL file</th><th>Lag</th><th>WAL continuity</th>"
      "<th>RPO</th><th>Activity</th><th>Backups</th><th>Newest backup</th><th>Proven "
      "restore</th></tr>\n";
  for (const ServerMetrics& s : snap.servers) {
    size_t valid = 0;
    for (const BackupSnapshot& b : s.backups) {
      valid += b.valid ? 1 : 0;
    }
    const BackupSnapshot* newest = newest_valid(s);
    std::string lag = R"(<span class="muted">unknown</span>)";
    if (s.server_end_lsn > 0 && s.wal_flushed_lsn > 0) {
      lag = human_bytes(s.server_end_lsn > s.wal_flushed_lsn ? s.server_end_lsn - s.wal_flushed_lsn
                                                             : 0);
    }
    out += fmt::format(
        "<tr><td><a href=\"#server-{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td>"
        "<td>{4}</td><td><code>{5}</code></td><td class=\"n\">{6}</td><td>{12}</td>"
        "<td class=\"n\">{13}</td><td>{7}</td>"
        "<td class=\"n\">{8} valid / {9}</td><td>{10}</td><td>{11}</td></tr>\n",
        escape_markup(s.name), yes_no(s.online),
        !s.probed ? "?" : (s.primary ? "primary" : "standby"),
        s.probed ? fmt::format("{}.{}", s.major_version, s.minor_version) : "?",
        s.wal_streaming ? fmt::format("{} timeline {}", yes_no(true), s.timeline) : yes_no(false),
        escape_markup(s.current_wal_file), lag, activity(s, snap.now_epoch), valid,
        s.backups.size(), newest != nullptr ? ago(snap.now_epoch, backup_end(*newest)) : "none",
        proven_cell(s, snap.now_epoch), continuity_cell(s),
        s.rpo_seconds ? fmt::format("{} s", *s.rpo_seconds)
                      : R"(<span class="muted">unknown</span>)");
  }
  out += "</table>\n";
}

void backups_table(std::string& out, const MetricsSnapshot& snap, const ServerMetrics& s) {
  if (s.backups.empty()) {
    out += "<p class=\"muted\">No backups yet.</p>\n";
    return;
  }
  out +=
      "<table>\n<tr><th>Label</th><th>Valid</th><th>Type</th><th>Size</th><th>Restore size</th>"
      "<th>Ratio</th><th>Age</th><th>Duration</th><th>Kept</th><th>Compression</th>"
      "<th>Encryption</th><th>Proven restore</th></tr>\n";
  size_t shown = 0;
  for (auto it = s.backups.rbegin(); it != s.backups.rend() && shown < kStatusPageBackups;
       ++it, ++shown) {
    const BackupSnapshot& b = *it;
    if (!b.info_readable) {
      out += fmt::format(
          "<tr><td>{}</td><td>{}</td><td colspan=\"10\" class=\"muted\">backup.info missing or "
          "unreadable</td></tr>\n",
          escape_markup(b.label), yes_no(false));
      continue;
    }
    std::string proven = R"(<span class="muted">&mdash;</span>)";
    if (b.proven_restore) {
      proven = *b.proven_restore ? R"(<span class="ok">&#10003; ok</span>)"
                                 : R"(<span class="bad">&#10007; failed</span>)";
      if (!b.proven_restore_time.empty()) {
        proven += fmt::format(" {}", escape_markup(b.proven_restore_time));
      }
      if (b.proven_restore_elapsed_seconds) {
        proven += fmt::format(" ({:.1f} s)", *b.proven_restore_elapsed_seconds);
      }
    }
    std::string ratio = b.restore_size > 0
                            ? fmt::format("{:.2f}", static_cast<double>(b.backup_size) /
                                                        static_cast<double>(b.restore_size))
                            : "";
    out += fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        escape_markup(b.label), yes_no(b.valid),
        b.incremental ? fmt::format("incremental of {}", escape_markup(b.parent))
                      : std::string("full"),
        human_bytes(b.backup_size), human_bytes(b.restore_size), ratio,
        ago(snap.now_epoch, backup_end(b)), human_duration(static_cast<int64_t>(b.elapsed_seconds)),
        b.keep ? "retained" : "", escape_markup(b.compression), escape_markup(b.encryption),
        proven);
  }
  out += "</table>\n";
  if (s.backups.size() > shown) {
    out += fmt::format("<p class=\"muted\">{} older backups not shown.</p>\n",
                       s.backups.size() - shown);
  }
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    return fmt::format("{} B", bytes);
  }
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string human_duration(int64_t seconds) {
  if (seconds < 0) {
    seconds = 0;
  }
  if (seconds < 120) {
    return fmt::format("{} s", seconds);
  }
  constexpr int64_t kHour = 3600;
  constexpr int64_t kDay = 24 * kHour;
  if (seconds < 2 * kHour) {
    return fmt::format("{} min", seconds / 60);
  }
  if (seconds < 2 * kDay) {
    return fmt::format("{} h", seconds / kHour);
  }
  return fmt::format("{} d", seconds / kDay);
}

std::string render_status_page(const MetricsSnapshot& snap) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"refresh\" content=\"30\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += fmt::format("<title>pgmoneta {}</title>\n<style>{}</style>\n</head>\n<body>\n",
                     escape_markup(snap.version), kStyle);

  out += fmt::format("<header>\n<h1>pgmoneta {}</h1>\n", escape_markup(snap.version));
  out += fmt::format("<p>State: {}", snap.running ? R"(<span class="ok">running</span>)"
                                                  : R"(<span class="bad">shutting down</span>)");
  if (snap.start_epoch > 0) {
    out +=
        fmt::format(" &middot; up {} (since {})", human_duration(snap.now_epoch - snap.start_epoch),
                    utc_time(snap.start_epoch));
  }
  out += fmt::format(" &middot; compression {} &middot; encryption {}</p>\n",
                     escape_markup(snap.compression), escape_markup(snap.encryption));
  out += fmt::format(
      "<p class=\"muted\">As of {}; this page refreshes every 30 s. Metrics for "
      "Prometheus: <a href=\"/metrics\">/metrics</a>.</p>\n",
      utc_time(snap.now_epoch));
  if (snap.base_dir_space) {
    out += space_line("Disk (base_dir)", snap.used_space.value_or(0), *snap.base_dir_space);
  } else if (snap.used_space) {
    out += fmt::format("<p>Repository: {} used</p>\n", human_bytes(*snap.used_space));
  }
  out += fmt::format("<p>Retention: {}</p>\n</header>\n", retention_text(snap.retention));

  out += "<section>\n<h2>Servers</h2>\n";
  if (snap.servers.empty()) {
    out += "<p class=\"muted\">No servers configured.</p>\n";
  } else {
    servers_table(out, snap);
  }
  out += "</section>\n";

  for (const ServerMetrics& s : snap.servers) {
    out += fmt::format("<section id=\"server-{0}\">\n<h2>Server {0}</h2>\n", escape_markup(s.name));
    out += fmt::format("<p>Retention: {}</p>\n", retention_text(s.retention));
    if (s.workspace_space) {
      out += space_line("Workspace", 0, *s.workspace_space);
    }
    if (!s.online && !s.offline_reason.empty()) {
      out += fmt::format("<p>Offline: <span class=\"bad\">{}</span></p>\n",
                         escape_markup(s.offline_reason));
    }
    if (s.wal_total_size) {
      out += fmt::format("<p>WAL stored: {}</p>\n", human_bytes(*s.wal_total_size));
    }
    if (!s.wal_last_error.empty()) {
      out += fmt::format("<p>Last WAL receiver error: <span class=\"bad\">{}</span></p>\n",
                         escape_markup(s.wal_last_error));
    }
    out += fmt::format("<p>Operations: {} ({} failed) &middot; last proven restore: {}</p>\n",
                       s.operation_count, s.failed_operation_count, proven_cell(s, snap.now_epoch));
    out += "<h3>Backups (newest first)</h3>\n";
    backups_table(out, snap, s);
    out += "</section>\n";
  }

  out += fmt::format(
      "<footer class=\"muted\"><a href=\"/metrics\">/metrics</a> &middot; pgmoneta {}</footer>\n"
      "</body>\n</html>\n",
      escape_markup(snap.version));
  return out;
}

}  // namespace pgm::metrics
