// The Prometheus text exposition (format 0.0.4) of a MetricsSnapshot. A pure function: no I/O,
// no clock (ages are relative to snapshot.now_epoch); thread-safe.
//
// Output rules: "# HELP <name> <text>" and "# TYPE <name> gauge|counter" (with the space
// pgmoneta leaves out, reference §14.10) precede each family's samples, which are all
// together; every family appears once; no two samples share name and labels; label values
// escape '\\', '"' and newline; a value that is unknown is left out, never written as NaN.
//
// Names: pgmoneta's families and labels (reference §8) wherever we have the data, so existing
// dashboards and alerts keep working, except where `promtool check metrics` refuses them:
// pgmoneta_retention_{days,weeks,months,years} -> pgmoneta_retention{parameter},
// pgmoneta_server_{,failed_}operation_count -> the counters pgmoneta_{,failed_}operations_total,
// pgmoneta_progress_total -> pgmoneta_progress_size. Families new to us follow Prometheus'
// conventions: base units in the name (_seconds, _bytes), counters end in _total.
#pragma once

#include <string>

#include "pgm/metrics/snapshot.h"

namespace pgm::metrics {

// Content-Type of render_prometheus()'s text.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_prometheus(const MetricsSnapshot& snapshot);

// Label value escaping of the exposition format: '\\' -> "\\\\", '"' -> "\\\"", LF -> "\\n".
std::string escape_label_value(const std::string& value);

}  // namespace pgm::metrics
