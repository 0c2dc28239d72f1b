#include "pgm/config/parser.h"

#include <fmt/format.h>

#include "pgm/config/values.h"

namespace pgm::config {

namespace {

// Parses the text after '=' into `out`. Returns an error message or "" on success.
std::string parse_value(std::string_view raw, std::string& out) {
  std::string_view v = trim(raw);
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    const char quote = v.front();
    const size_t close = v.find(quote, 1);
    if (close == std::string_view::npos) {
      return fmt::format("unterminated {} quote", quote == '"' ? "double" : "single");
    }
    std::string_view rest = trim(v.substr(close + 1));
    if (!rest.empty() && rest.front() != '#') {
      return fmt::format("unexpected text \"{}\" after the closing quote", rest);
    }
    out = std::string(v.substr(1, close - 1));
    return "";
  }
  const size_t hash = v.find('#');
  out = std::string(trim(v.substr(0, hash)));
  return "";
}

}  // namespace

Result<IniDocument> parse_ini(std::string_view text, const std::string& file_name) {
  IniDocument doc;
  doc.sections.push_back(IniSection{});
  int line_no = 0;
  auto fail = [&](const std::string& what) {
    return make_error(ErrorCode::kConfig, fmt::format("{}:{}: {}", file_name, line_no, what));
  };
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line = trim(line);  // also drops a '\r' of CRLF files
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      continue;
    }
    if (line.front() == '[') {
      const size_t close = line.find(']');
      if (close == std::string_view::npos) {
        return fail(fmt::format("section header \"{}\" has no closing ']'", line));
      }
      std::string_view rest = trim(line.substr(close + 1));
      if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
        return fail(fmt::format("unexpected text \"{}\" after section header", rest));
      }
      std::string_view name = trim(line.substr(1, close - 1));
      if (name.empty()) {
        return fail("empty section name");
      }
      doc.sections.push_back(IniSection{std::string(name), line_no, {}});
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fail(fmt::format("expected \"key = value\" or \"[section]\", got \"{}\"", line));
    }
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) {
      return fail("empty key before '='");
    }
    IniEntry entry{line_no, std::string(key), {}};
    if (std::string what = parse_value(line.substr(eq + 1), entry.value); !what.empty()) {
      return fail(fmt::format("{}: {}", key, what));
    }
    doc.sections.back().entries.push_back(std::move(entry));
  }
  if (doc.sections.front().entries.empty()) {
    doc.sections.erase(doc.sections.begin());
  }
  return doc;
}

}  // namespace pgm::config
