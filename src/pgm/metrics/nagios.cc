#include "pgm/metrics/nagios.h"

#include <cctype>

#include "pgm/metrics/exposition.h"

namespace pgm::metrics {

namespace {

// A label's characters as Nagios takes them unquoted.
void append_clean(std::string& out, std::string_view text) {
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    out += std::isalnum(u) != 0 || ch == '_' || ch == '.' || ch == '-' ? ch : '_';
  }
}

}  // namespace

std::string render_nagios(std::string_view prometheus_text) {
  std::string perf;
  for (const Family& family : parse_exposition(prometheus_text)) {
    for (const Sample& sample : family.samples) {
      if (!perf.empty()) {
        perf += ' ';
      }
      append_clean(perf, sample.name);
      for (const auto& label : sample.labels) {
        perf += '_';
        append_clean(perf, label.second);
      }
      perf += '=';
      perf += sample.value;
    }
  }
  std::string out = "PGMONETA OK - pgmoneta is running";
  if (!perf.empty()) {
    out += '|';
    out += perf;
  }
  out += '\n';
  return out;
}

}  // namespace pgm::metrics
