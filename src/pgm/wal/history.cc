#include "pgm/wal/history.h"

#include <charconv>

#include <fmt/format.h>

namespace pgm::wal {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits off the next white-space-delimited field.
std::string_view next_field(std::string_view& s) {
  s = trim_left(s);
  size_t end = 0;
  while (end < s.size() && !is_space(s[end])) {
    ++end;
  }
  std::string_view field = s.substr(0, end);
  s.remove_prefix(end);
  return field;
}

Error line_error(size_t line_no, std::string_view what) {
  return {ErrorCode::kCorruption, fmt::format("line {}: {}", line_no, what)};
}

}  // namespace

Result<std::vector<HistoryEntry>> parse_history(std::string_view contents) {
  std::vector<HistoryEntry> entries;
  size_t line_no = 0;
  while (!contents.empty()) {
    ++line_no;
    size_t nl = contents.find('\n');
    std::string_view line = contents.substr(0, nl);
    contents.remove_prefix(nl == std::string_view::npos ? contents.size() : nl + 1);

    std::string_view rest = trim_left(line);
    if (rest.empty() || rest.front() == '#') {
      continue;
    }
    std::string_view tli_text = next_field(rest);
    uint32_t tli = 0;
    auto [ptr, ec] = std::from_chars(tli_text.data(), tli_text.data() + tli_text.size(), tli);
    if (ec != std::errc() || ptr != tli_text.data() + tli_text.size() || tli == 0) {
      return tl::unexpected(
          line_error(line_no, fmt::format("invalid timeline id \"{}\"", tli_text)));
    }
    std::string_view lsn_text = next_field(rest);
    if (lsn_text.empty()) {
      return tl::unexpected(line_error(line_no, "missing switch point"));
    }
    auto lsn = Lsn::parse(lsn_text);
    if (!lsn) {
      return tl::unexpected(line_error(line_no, lsn.error().message()));
    }
    if (!entries.empty()) {
      const HistoryEntry& prev = entries.back();
      if (tli <= prev.tli.value()) {
        return tl::unexpected(line_error(
            line_no,
            fmt::format("timeline {} does not follow timeline {}", tli, prev.tli.value())));
      }
      if (*lsn < prev.end) {
        return tl::unexpected(
            line_error(line_no, fmt::format("switch point {} precedes the previous one {}",
                                            lsn->to_string(), prev.end.to_string())));
      }
    }
    entries.push_back(
        HistoryEntry{TimelineId(tli), *lsn, std::string(trim_right(trim_left(rest)))});
  }
  return entries;
}

std::optional<Lsn> switch_point(const std::vector<HistoryEntry>& entries, TimelineId tli) {
  for (const HistoryEntry& e : entries) {
    if (e.tli == tli) {
      return e.end;
    }
  }
  return std::nullopt;
}

TimelineId timeline_at(const std::vector<HistoryEntry>& entries, TimelineId newest, Lsn lsn) {
  for (const HistoryEntry& e : entries) {
    if (lsn < e.end) {
      return e.tli;
    }
  }
  return newest;
}

}  // namespace pgm::wal
