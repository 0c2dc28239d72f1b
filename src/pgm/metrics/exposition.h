// Reading our own Prometheus text exposition (prometheus.h) back into families and samples, for
// the views built on top of it: the nagios check line (nagios.h) and the web console
// (console_page.h). It reads what render_prometheus writes (and any well-formed text exposition,
// with or without the space after '#'); lines it cannot read are skipped, never fatal. Pure
// functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgm::metrics {

struct Sample {
  std::string name;  // the sample's metric name (a family's name, or with _sum, _count, ...)
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values, in order
  std::string value;                                        // as written ("1", "0.5", "NaN")
};

struct Family {
  std::string name;
  std::string help;  // unescaped
  std::string type;  // "gauge", "counter", ... ("" when no # TYPE line)
  std::vector<Sample> samples;
};

// The families of `text` in order of first appearance. A sample without a # HELP/# TYPE line
// before it opens a family of its own name.
std::vector<Family> parse_exposition(std::string_view text);

}  // namespace pgm::metrics
