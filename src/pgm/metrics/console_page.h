// The web console served on the `console` port (pgmoneta's console: the metrics as a page for a
// person). One self-contained HTML5 document (inline CSS and a small inline script, no external
// resources) built from our Prometheus text (prometheus.h):
//   - the metric families grouped in categories (daemon, space, servers, WAL, backups,
//     operations, retention, off-site, other), a table per category of metric, labels and value;
//   - a search box (metric name, label values, help text), a server filter (the values of the
//     `name` label) and a category filter;
//   - a simple view (no per-backup series, no help text) and an advanced one (everything);
//   - auto-refresh (off, 5, 10, 30 or 60 s) and a light, dark or system theme.
// The choices are kept in the browser's localStorage, so a refresh keeps them; the URL's query
// sets them too (?q=wal&server=primary&category=WAL&view=advanced&refresh=30&theme=dark). Without
// JavaScript every metric is shown. Every text from the exposition is HTML-escaped. A pure
// function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgm::metrics {

inline constexpr const char* kConsolePageContentType = "text/html; charset=utf-8";

// The console for `prometheus_text`; `version` is ours, `now_epoch` the time it was rendered.
std::string render_console_page(std::string_view prometheus_text, std::string_view version,
                                int64_t now_epoch);

// The category a metric family is shown in (its title, e.g. "WAL").
std::string_view console_category(std::string_view family_name);

}  // namespace pgm::metrics
