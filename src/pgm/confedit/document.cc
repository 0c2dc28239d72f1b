#include "pgm/confedit/document.h"

#include <algorithm>

#include <fmt/format.h>

#include "pgm/config/parser.h"

namespace pgm::confedit {

namespace {

constexpr std::string_view kBlanks = " \t\r\v\f";

bool is_blank(char c) { return kBlanks.find(c) != std::string_view::npos; }

// A section or key name the parser reads back as written.
bool writable_name(std::string_view name) {
  if (name.empty() || is_blank(name.front()) || is_blank(name.back())) {
    return false;
  }
  return name.find_first_of("=[]#;\n\r") == std::string_view::npos;
}

// The value as it must be written after "key = " for the parser to read back `value`.
Result<std::string> quote_value(std::string_view value) {
  if (value.find_first_of("\n\r") != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "a value cannot hold a line break");
  }
  const bool needs_quotes = !value.empty() && (is_blank(value.front()) || is_blank(value.back()) ||
                                               value.front() == '"' || value.front() == '\'' ||
                                               value.find('#') != std::string_view::npos);
  if (!needs_quotes) {
    return std::string(value);
  }
  if (value.find('"') == std::string_view::npos) {
    return fmt::format("\"{}\"", value);
  }
  if (value.find('\'') == std::string_view::npos) {
    return fmt::format("'{}'", value);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "a value with blanks at its ends, '#' or a leading quote cannot hold both "
                    "quote marks");
}

// Offsets [begin, end) of the value text of a key line, quotes included, trailing blanks and
// an inline comment excluded. The line has passed parse_ini.
std::pair<size_t, size_t> value_span(std::string_view line) {
  size_t begin = line.find('=') + 1;
  while (begin < line.size() && is_blank(line[begin])) {
    ++begin;
  }
  size_t end = 0;
  if (begin < line.size() && (line[begin] == '"' || line[begin] == '\'')) {
    end = line.find(line[begin], begin + 1) + 1;
  } else {
    end = std::min(line.find('#', begin), line.size());
    while (end > begin && is_blank(line[end - 1])) {
      --end;
    }
  }
  return {begin, end};
}

}  // namespace

Result<Document> Document::parse(std::string_view text, const std::string& file_name) {
  auto parsed = config::parse_ini(text, file_name);
  if (!parsed) {
    return tl::unexpected(parsed.error());
  }
  Document doc;
  while (!text.empty()) {
    Line line;
    const size_t nl = text.find('\n');
    line.text = std::string(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (nl != std::string_view::npos) {
      line.ending = "\n";
      if (!line.text.empty() && line.text.back() == '\r') {
        line.text.pop_back();
        line.ending = "\r\n";
      }
    }
    doc.lines_.push_back(std::move(line));
  }
  // parse_ini numbers lines from 1 the same way (split on '\n').
  for (const config::IniSection& section : parsed->sections) {
    if (section.line > 0) {
      Line& header = doc.lines_[static_cast<size_t>(section.line - 1)];
      header.kind = Kind::kHeader;
      header.section = section.name;
    }
    for (const config::IniEntry& entry : section.entries) {
      Line& line = doc.lines_[static_cast<size_t>(entry.line - 1)];
      line.kind = Kind::kKey;
      line.section = section.name;
      line.key = entry.key;
      line.value = entry.value;
    }
  }
  return doc;
}

std::string Document::serialize() const {
  std::string out;
  for (const Line& line : lines_) {
    out += line.text;
    out += line.ending;
  }
  return out;
}

std::vector<std::string> Document::sections() const {
  std::vector<std::string> names;
  for (const Line& line : lines_) {
    if (line.kind == Kind::kHeader &&
        std::find(names.begin(), names.end(), line.section) == names.end()) {
      names.push_back(line.section);
    }
  }
  return names;
}

bool Document::has_section(std::string_view section) const {
  return std::any_of(lines_.begin(), lines_.end(), [&](const Line& line) {
    return line.kind == Kind::kHeader && line.section == section;
  });
}

std::optional<std::vector<std::string>> Document::keys(std::string_view section) const {
  if (!has_section(section)) {
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const Line& line : lines_) {
    if (line.kind == Kind::kKey && line.section == section &&
        std::find(names.begin(), names.end(), line.key) == names.end()) {
      names.push_back(line.key);
    }
  }
  return names;
}

std::optional<std::string> Document::get(std::string_view section, std::string_view key) const {
  std::optional<std::string> value;
  for (const Line& line : lines_) {
    if (line.kind == Kind::kKey && line.section == section && line.key == key) {
      value = line.value;
    }
  }
  return value;
}

Result<void> Document::set(std::string_view section, std::string_view key, std::string_view value) {
  if (!writable_name(section)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("section name \"{}\" cannot be written", section));
  }
  if (!writable_name(key)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("key name \"{}\" cannot be written", key));
  }
  auto written = quote_value(value);
  if (!written) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: {}", key, written.error().message()));
  }
  // The last occurrence wins when read, so that is the line to change.
  for (size_t i = lines_.size(); i-- > 0;) {
    Line& existing = lines_[i];
    if (existing.kind == Kind::kKey && existing.section == section && existing.key == key) {
      const auto [begin, end] = value_span(existing.text);
      std::string text = existing.text.substr(0, begin);
      std::string suffix = existing.text.substr(end);
      if (begin == end && text.size() >= 2 && text.back() == '=' &&
          is_blank(text[text.size() - 2])) {
        text += ' ';  // "key =" had no blank after '=': mirror the one before it
      }
      if (!suffix.empty() && suffix.front() == '#') {
        suffix.insert(0, " ");
      }
      text += *written;
      text += suffix;
      existing.text = std::move(text);
      existing.value = std::string(value);
      return {};
    }
  }
  Line line;
  line.kind = Kind::kKey;
  line.text = fmt::format("{} = {}", key, *written);
  line.ending = eol();
  line.section = std::string(section);
  line.key = std::string(key);
  line.value = std::string(value);
  // After the last key (or the header) of the section's last occurrence.
  std::optional<size_t> after;
  for (size_t i = 0; i < lines_.size(); ++i) {
    const bool header = lines_[i].kind == Kind::kHeader;
    const bool own_key = after && lines_[i].kind == Kind::kKey;
    if ((header || own_key) && lines_[i].section == section) {
      after = i;
    }
  }
  if (after) {
    if (*after + 1 == lines_.size()) {
      terminate_last_line();
    }
    lines_.insert(lines_.begin() + static_cast<std::ptrdiff_t>(*after + 1), std::move(line));
    return {};
  }
  terminate_last_line();
  if (!lines_.empty() && lines_.back().text.find_first_not_of(kBlanks) != std::string::npos) {
    lines_.push_back(Line{Kind::kOther, "", eol(), "", "", ""});
  }
  lines_.push_back(
      Line{Kind::kHeader, fmt::format("[{}]", section), eol(), std::string(section), "", ""});
  lines_.push_back(std::move(line));
  return {};
}

bool Document::remove_key(std::string_view section, std::string_view key) {
  const size_t before = lines_.size();
  lines_.erase(std::remove_if(lines_.begin(), lines_.end(),
                              [&](const Line& line) {
                                return line.kind == Kind::kKey && line.section == section &&
                                       line.key == key;
                              }),
               lines_.end());
  return lines_.size() != before;
}

bool Document::remove_section(std::string_view section) {
  bool removed = false;
  size_t i = 0;
  while (i < lines_.size()) {
    if (lines_[i].kind != Kind::kHeader || lines_[i].section != section) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < lines_.size() && lines_[end].kind != Kind::kHeader) {
      ++end;
    }
    // Comment lines right above the next header describe that section: keep them.
    size_t keep_from = end;
    if (end < lines_.size()) {
      while (keep_from > i + 1 && lines_[keep_from - 1].kind == Kind::kOther &&
             lines_[keep_from - 1].text.find_first_not_of(kBlanks) != std::string::npos) {
        --keep_from;
      }
    }
    lines_.erase(lines_.begin() + static_cast<std::ptrdiff_t>(i),
                 lines_.begin() + static_cast<std::ptrdiff_t>(keep_from));
    removed = true;
  }
  return removed;
}

std::string Document::eol() const {
  const bool crlf = std::any_of(lines_.begin(), lines_.end(),
                                [](const Line& line) { return line.ending == "\r\n"; });
  return crlf ? "\r\n" : "\n";
}

void Document::terminate_last_line() {
  if (!lines_.empty() && lines_.back().ending.empty()) {
    lines_.back().ending = eol();
  }
}

}  // namespace pgm::confedit
