// The `nagios` port's answer: pgmoneta's passive-check line, built from our Prometheus text
// (prometheus.h). A pure function; thread-safe.
//
//   PGMONETA OK - pgmoneta is running|<label>=<value> <label>=<value> ...\n
//
// One performance-data item per sample, in the exposition's order. pgmoneta uses the family
// name alone as the label, so two samples of one family (two servers) share it; ours appends
// the sample's label values, joined by '_' (`pgmoneta_server_valid_primary=1`), so that each
// item is unique. A label keeps letters, digits, '_', '.' and '-'; any other byte becomes '_'
// (Nagios performance labels may hold neither '=' nor a quote unescaped). Comments, blank lines
// and samples without a value are skipped.
#pragma once

#include <string>
#include <string_view>

namespace pgm::metrics {

// The check line for `prometheus_text` (ends with a newline).
std::string render_nagios(std::string_view prometheus_text);

// What the port answers when the metrics cannot be collected.
inline constexpr std::string_view kNagiosUnknown =
    "PGMONETA UNKNOWN - Failed to retrieve metrics\n";

}  // namespace pgm::metrics
