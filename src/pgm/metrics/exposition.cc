#include "pgm/metrics/exposition.h"

namespace pgm::metrics {

namespace {

// `text` with the exposition's escapes (\\, \", \n) replaced by what they stand for.
std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      out += text[i] == 'n' ? '\n' : text[i];
    } else {
      out += text[i];
    }
  }
  return out;
}

// name="value",name="value" (the text between the braces); false when malformed.
bool parse_labels(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) {
      ++i;
    }
    if (i == text.size()) {
      break;
    }
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"') {
      return false;
    }
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value += text[j] == 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    if (j >= text.size()) {
      return false;  // unterminated value
    }
    out.emplace_back(std::string(text.substr(i, eq - i)), std::move(value));
    i = j + 1;
  }
  return true;
}

// The family a sample named `name` belongs to: the open one when `name` is it or one of its
// series (_sum, _count, _bucket, _total), else a new one.
Family& family_for(std::vector<Family>& families, std::string_view name) {
  if (!families.empty()) {
    Family& last = families.back();
    if (name == last.name) {
      return last;
    }
    if (name.substr(0, last.name.size()) == last.name) {
      std::string_view suffix = name.substr(last.name.size());
      for (std::string_view series : {"_sum", "_count", "_bucket", "_total", "_created"}) {
        if (suffix == series) {
          return last;
        }
      }
    }
  }
  families.push_back(Family{std::string(name), "", "", {}});
  return families.back();
}

// A "# HELP name text" or "# TYPE name type" line (the space after '#' is optional, as
// pgmoneta omits it).
void parse_comment(std::string_view line, std::vector<Family>& families) {
  line.remove_prefix(1);
  if (!line.empty() && line.front() == ' ') {
    line.remove_prefix(1);
  }
  const bool help = line.substr(0, 5) == "HELP ";
  const bool type = line.substr(0, 5) == "TYPE ";
  if (!help && !type) {
    return;
  }
  line.remove_prefix(5);
  size_t space = line.find(' ');
  std::string_view name = line.substr(0, space);
  std::string_view rest = space == std::string_view::npos ? "" : line.substr(space + 1);
  if (name.empty()) {
    return;
  }
  if (families.empty() || families.back().name != name) {
    families.push_back(Family{std::string(name), "", "", {}});
  }
  if (help) {
    families.back().help = unescape(rest);
  } else {
    families.back().type = std::string(rest);
  }
}

}  // namespace

std::vector<Family> parse_exposition(std::string_view text) {
  std::vector<Family> families;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) {
      continue;
    }
    if (line.front() == '#') {
      parse_comment(line, families);
      continue;
    }
    // name[{labels}] value [timestamp]
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos || name_end == 0) {
      continue;
    }
    Sample sample;
    sample.name = std::string(line.substr(0, name_end));
    size_t rest = name_end;
    if (line[name_end] == '{') {
      size_t close = line.rfind('}');
      if (close == std::string_view::npos || close < name_end ||
          !parse_labels(line.substr(name_end + 1, close - name_end - 1), sample.labels)) {
        continue;
      }
      rest = close + 1;
    }
    size_t value_start = line.find_first_not_of(' ', rest);
    if (value_start == std::string_view::npos) {
      continue;
    }
    size_t value_end = line.find(' ', value_start);
    sample.value = std::string(line.substr(value_start, value_end == std::string_view::npos
                                                            ? std::string_view::npos
                                                            : value_end - value_start));
    family_for(families, sample.name).samples.push_back(std::move(sample));
  }
  return families;
}

}  // namespace pgm::metrics
