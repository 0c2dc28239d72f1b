#include "pgm/metrics/nagios.h"

#include <cctype>
#include <vector>

namespace pgm::metrics {

namespace {

// A label's characters as Nagios takes them unquoted.
void append_clean(std::string& out, std::string_view text) {
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    out += std::isalnum(u) != 0 || ch == '_' || ch == '.' || ch == '-' ? ch : '_';
  }
}

// The values of `labels` (the text between the braces: name="value",...), in order; escapes
// (\\, \", \n) are taken as the character they stand for.
std::vector<std::string> label_values(std::string_view labels) {
  std::vector<std::string> values;
  size_t i = 0;
  while (i < labels.size()) {
    size_t quote = labels.find('"', i);
    if (quote == std::string_view::npos) {
      break;
    }
    std::string value;
    size_t j = quote + 1;
    for (; j < labels.size() && labels[j] != '"'; ++j) {
      if (labels[j] == '\\' && j + 1 < labels.size()) {
        ++j;
      }
      value += labels[j];
    }
    values.push_back(std::move(value));
    i = j + 1;
  }
  return values;
}

}  // namespace

std::string render_nagios(std::string_view prometheus_text) {
  std::string perf;
  size_t start = 0;
  while (start < prometheus_text.size()) {
    size_t end = prometheus_text.find('\n', start);
    if (end == std::string_view::npos) {
      end = prometheus_text.size();
    }
    std::string_view line = prometheus_text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    // name[{labels}] value [timestamp]
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos || name_end == 0) {
      continue;
    }
    std::string label;
    append_clean(label, line.substr(0, name_end));
    size_t rest = name_end;
    if (line[name_end] == '{') {
      size_t close = line.rfind('}');
      if (close == std::string_view::npos || close < name_end) {
        continue;
      }
      for (const std::string& v : label_values(line.substr(name_end + 1, close - name_end - 1))) {
        label += '_';
        append_clean(label, v);
      }
      rest = close + 1;
    }
    size_t value_start = line.find_first_not_of(' ', rest);
    if (value_start == std::string_view::npos) {
      continue;
    }
    size_t value_end = line.find(' ', value_start);
    std::string_view value =
        line.substr(value_start, value_end == std::string_view::npos ? std::string_view::npos
                                                                     : value_end - value_start);
    if (!perf.empty()) {
      perf += ' ';
    }
    perf += label;
    perf += '=';
    perf += value;
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
