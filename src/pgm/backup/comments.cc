// BackupInfo COMMENTS: "key|value" entries joined by ',' (info.h).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "pgm/backup/info.h"
#include "pgm/core/markup.h"

namespace pgm::backup {
namespace {

// A comment key or value: no control character (NUL, newline, ...), none of `forbidden`; a key
// is not empty.
Result<void> check_comment_text(std::string_view what, std::string_view text,
                                std::string_view forbidden) {
  const bool control = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
  if (!control && text.find_first_of(forbidden) == std::string_view::npos &&
      !(what == "key" && text.empty())) {
    return {};
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("comment {} '{}' must be {}text without control characters or "
                                "'{}'",
                                what, core::printable(text), what == "key" ? "non-empty " : "",
                                fmt::join(forbidden, "', '")));
}

std::string join_comments(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [key, value] : entries) {
    if (!out.empty()) {
      out.push_back(',');
    }
    out += key;
    out.push_back('|');
    out += value;
  }
  return out;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_comments(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> entries;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view entry = text.substr(start, end - start);
    size_t bar = entry.find('|');
    if (bar == std::string_view::npos || bar == 0) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("COMMENTS: malformed entry '{}', expected key|value",
                                    core::printable(entry)));
    }
    entries.emplace_back(entry.substr(0, bar), entry.substr(bar + 1));
    start = end + 1;
  }
  return entries;
}

Result<std::optional<std::string>> get_comment(const BackupInfo& info, std::string_view key) {
  PGM_ASSIGN_OR_RETURN(auto entries, parse_comments(info.comments));
  for (auto& [k, v] : entries) {
    if (k == key) {
      return std::optional<std::string>(std::move(v));
    }
  }
  return std::optional<std::string>();
}

Result<void> set_comment(BackupInfo& info, std::string_view key, std::string_view value) {
  PGM_TRY(check_comment_text("key", key, ",|"));
  PGM_TRY(check_comment_text("value", value, ","));
  PGM_ASSIGN_OR_RETURN(auto entries, parse_comments(info.comments));
  bool replaced = false;
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = value;
      replaced = true;
    }
  }
  if (!replaced) {
    entries.emplace_back(key, value);
  }
  info.comments = join_comments(entries);
  return {};
}

Result<void> remove_comment(BackupInfo& info, std::string_view key) {
  PGM_ASSIGN_OR_RETURN(auto entries, parse_comments(info.comments));
  auto it = std::remove_if(entries.begin(), entries.end(),
                           [&](const auto& entry) { return entry.first == key; });
  if (it == entries.end()) {
    return make_error(ErrorCode::kNotFound, fmt::format("no comment '{}'", core::printable(key)));
  }
  entries.erase(it, entries.end());
  info.comments = join_comments(entries);
  return {};
}

}  // namespace pgm::backup
