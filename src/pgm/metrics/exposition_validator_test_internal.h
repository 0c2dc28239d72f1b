// Test-only: a strict checker of Prometheus text exposition format 0.0.4 as we emit it.
// Beyond the grammar it requires: "# HELP" and "# TYPE" at most once per family and before
// its samples, a family's samples contiguous, no duplicate series, no NaN, counters (and only
// counters) named *_total, no blank or free comment lines.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace pgm::metrics::testing {

struct Exposition {
  std::vector<std::string> problems;         // "line N: what"
  std::map<std::string, std::string> types;  // family -> gauge|counter|...
  std::map<std::string, std::string> help;   // family -> unescaped text
  std::map<std::string, double> series;      // "name{k=\"v\",...}" as written -> value
  // Unescaped labels of each series, in written order.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> labels;
};

inline bool is_metric_name(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)) != 0);
    if (!ok) {
      return false;
    }
  }
  return true;
}

inline bool is_label_name(std::string_view s) {
  return is_metric_name(s) && s.find(':') == std::string_view::npos;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// `total_gauges`: gauges allowed to end in _total (pgmoneta's names kept for compatibility).
inline Exposition check_exposition(const std::string& text,
                                   const std::set<std::string>& total_gauges = {}) {
  Exposition out;
  std::set<std::string> sampled;  // families that have samples
  std::set<std::string> closed;   // families whose samples ended
  std::set<std::string> canonical_series;
  std::string current;
  size_t line_no = 0;
  auto problem = [&](const std::string& what) {
    out.problems.push_back("line " + std::to_string(line_no) + ": " + what);
  };
  if (!text.empty() && text.back() != '\n') {
    out.problems.emplace_back("text does not end with a newline");
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) {
      problem("blank line");
      continue;
    }
    if (line[0] == '#') {
      bool is_help = line.rfind("# HELP ", 0) == 0;
      bool is_type = line.rfind("# TYPE ", 0) == 0;
      if (!is_help && !is_type) {
        problem("comment line (HELP/TYPE need '# ' with a space)");
        continue;
      }
      std::string_view rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string name(rest.substr(0, sp));
      std::string_view arg =
          sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (!is_metric_name(name)) {
        problem("bad metric name '" + name + "'");
        continue;
      }
      if (sampled.count(name) != 0) {
        problem(std::string(is_help ? "HELP" : "TYPE") + " after samples of " + name);
      }
      if (is_help) {
        if (out.help.count(name) != 0) {
          problem("second HELP for " + name);
        }
        std::string unescaped;
        for (size_t i = 0; i < arg.size(); ++i) {
          if (arg[i] == '\\') {
            if (i + 1 < arg.size() && (arg[i + 1] == '\\' || arg[i + 1] == 'n')) {
              unescaped += arg[i + 1] == 'n' ? '\n' : '\\';
              ++i;
            } else {
              problem("bad escape in HELP of " + name);
            }
          } else {
            unescaped += arg[i];
          }
        }
        if (unescaped.empty()) {
          problem("empty HELP for " + name);
        }
        out.help[name] = unescaped;
      } else {
        std::string type(arg);
        if (type != "gauge" && type != "counter" && type != "histogram" && type != "summary" &&
            type != "untyped") {
          problem(fmt::format("bad TYPE '{}' for {}", type, name));
        }
        if (out.types.count(name) != 0) {
          problem("second TYPE for " + name);
        }
        if ((type == "counter") != ends_with(name, "_total") &&
            !(type == "gauge" && total_gauges.count(name) != 0)) {
          problem(type == "counter" ? "counter " + name + " does not end in _total"
                                    : "non-counter " + name + " ends in _total");
        }
        out.types[name] = type;
      }
      continue;
    }

    // A sample: name [{labels}] value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') {
      ++i;
    }
    std::string name(line.substr(0, i));
    if (!is_metric_name(name)) {
      problem("bad metric name '" + name + "'");
      continue;
    }
    std::vector<std::pair<std::string, std::string>> labels;
    bool bad = false;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) {
          bad = true;
          break;
        }
        std::string key(line.substr(i, eq - i));
        if (!is_label_name(key) || eq + 1 >= line.size() || line[eq + 1] != '"') {
          bad = true;
          break;
        }
        i = eq + 2;
        std::string value;
        bool closed_quote = false;
        while (i < line.size()) {
          char c = line[i];
          if (c == '\\') {
            if (i + 1 >= line.size()) {
              bad = true;
              break;
            }
            char n = line[i + 1];
            if (n == '\\' || n == '"') {
              value += n;
            } else if (n == 'n') {
              value += '\n';
            } else {
              bad = true;
              break;
            }
            i += 2;
          } else if (c == '"') {
            closed_quote = true;
            ++i;
            break;
          } else {
            value += c;
            ++i;
          }
        }
        if (bad || !closed_quote) {
          bad = true;
          break;
        }
        for (const auto& l : labels) {
          if (l.first == key) {
            bad = true;
          }
        }
        labels.emplace_back(key, value);
        if (i < line.size() && line[i] == ',') {
          ++i;
          if (i < line.size() && line[i] == '}') {
            bad = true;  // allowed by the grammar, but we never write a trailing comma
          }
        }
      }
      if (bad || i >= line.size()) {
        problem("bad label set in '" + std::string(line) + "'");
        continue;
      }
      ++i;  // '}'
    }
    std::string series(line.substr(0, i));
    if (i >= line.size() || line[i] != ' ') {
      problem("no value in '" + std::string(line) + "'");
      continue;
    }
    std::string rest(line.substr(i + 1));
    size_t sp = rest.find(' ');
    std::string value_text = rest.substr(0, sp);
    if (sp != std::string::npos) {
      std::string ts = rest.substr(sp + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) {
        problem("bad timestamp in '" + std::string(line) + "'");
      }
    }
    char* end = nullptr;
    double value = std::strtod(value_text.c_str(), &end);
    if (value_text.empty() || *end != '\0' || value_text.find_first_of("nN") != std::string::npos) {
      problem("bad or NaN value '" + value_text + "'");
      continue;
    }
    if (out.types.count(name) == 0) {
      problem("sample of " + name + " without a TYPE before it");
    }
    if (name != current) {
      if (!current.empty()) {
        closed.insert(current);
      }
      if (closed.count(name) != 0) {
        problem("samples of " + name + " are not together");
      }
      current = name;
    }
    sampled.insert(name);
    auto sorted = labels;
    std::sort(sorted.begin(), sorted.end());
    std::string canonical = name;
    for (const auto& [k, v] : sorted) {
      canonical += fmt::format("\x1f{}\x1e{}", k, v);
    }
    if (!canonical_series.insert(canonical).second) {
      problem("duplicate series " + series);
    }
    out.series[series] = value;
    out.labels[series] = labels;
  }
  for (const auto& [name, type] : out.types) {
    if (out.help.count(name) == 0) {
      out.problems.push_back("no HELP for " + name);
    }
    if (sampled.count(name) == 0) {
      out.problems.push_back("TYPE without samples for " + name);
    }
  }
  return out;
}

}  // namespace pgm::metrics::testing
