#include "pgm/restore/position.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "pgm/backup/info.h"

namespace pgm::restore {

namespace {

using Clock = std::chrono::system_clock;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower_char);
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

template <typename T>
std::optional<T> parse_decimal(std::string_view s) {
  if (!all_digits(s)) {
    return std::nullopt;
  }
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return value;
}

// [a-z_][a-z0-9_.]*, any case: what PostgreSQL accepts as a setting name (custom "ext.name" too).
bool is_guc_name(std::string_view key) {
  if (key.empty()) {
    return false;
  }
  auto first = [](char c) { return (lower_char(c) >= 'a' && lower_char(c) <= 'z') || c == '_'; };
  if (!first(key.front())) {
    return false;
  }
  return std::all_of(key.begin() + 1, key.end(),
                     [&](char c) { return first(c) || is_digit(c) || c == '.'; });
}

Error invalid(std::string message) {
  return {ErrorCode::kInvalidArgument, "position: " + std::move(message)};
}

// A pass-through key that one of our words generates: the word to write instead, or nullopt
// when the key may pass. recovery_target* and standby_mode are never passed through, so the
// generated settings cannot contradict the user's.
std::optional<std::string> reserved_key_hint(const std::string& key) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kReserved = {{
      {"recovery_target", "immediate"},
      {"recovery_target_name", "name="},
      {"recovery_target_xid", "xid="},
      {"recovery_target_lsn", "lsn="},
      {"recovery_target_time", "time="},
      {"recovery_target_inclusive", "inclusive="},
      {"recovery_target_timeline", "timeline="},
      {"recovery_target_action", "action="},
      {"standby_mode", "replica"},
  }};
  for (const auto& [name, word] : kReserved) {
    if (key == name) {
      return std::string(word);
    }
  }
  if (key.rfind("recovery_target", 0) == 0) {
    return std::string(
        "current, immediate, name=, xid=, lsn=, time=, inclusive=, timeline= or action=");
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string v = lower(text);
  if (v == "on" || v == "true" || v == "yes" || v == "1") {
    return true;
  }
  if (v == "off" || v == "false" || v == "no" || v == "0") {
    return false;
  }
  return std::nullopt;
}

std::string format_local_time(Clock::time_point time) {
  std::time_t seconds = Clock::to_time_t(time);
  std::tm local{};
  localtime_r(&seconds, &local);
  std::array<char, 64> buffer{};
  size_t n = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%d %H:%M:%S%z", &local);
  return {buffer.data(), n};
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays.at(static_cast<size_t>(m - 1));
}

// Reads exactly n digits at pos; advances pos.
std::optional<int> read_digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) {
    return std::nullopt;
  }
  auto value = parse_decimal<int>(s.substr(pos, n));
  if (value) {
    pos += n;
  }
  return value;
}

bool read_char(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Builds the message of more than one target.
std::string target_word(const Position& p) {
  switch (p.target) {
    case TargetKind::kCurrent:
      return "current";
    case TargetKind::kImmediate:
      return "immediate";
    case TargetKind::kName:
      return "name=" + p.value;
    case TargetKind::kXid:
      return "xid=" + p.value;
    case TargetKind::kLsn:
      return "lsn=" + p.value;
    case TargetKind::kTime:
      return "time=" + p.value;
    case TargetKind::kNone:
      break;
  }
  return "";
}

std::string of_server(std::string_view server) {
  return server.empty() ? std::string() : fmt::format(" of server {}", server);
}

// Label time + ELAPSED; nullopt when either is unknown. An ELAPSED that is negative, not a
// number, or would carry the end past what the clock holds (a corrupt backup.info) is unknown.
std::optional<Clock::time_point> end_time(const backup::BackupEntry& e) {
  auto start = backup::label_time(e.label);
  if (!start || !e.info) {
    return std::nullopt;
  }
  using Seconds = std::chrono::duration<double>;
  const double elapsed = e.info->elapsed.count();
  const double end = Seconds(start->time_since_epoch()).count() + elapsed;
  const double limit = Seconds(Clock::duration::max()).count() - 1;
  if (!(elapsed >= 0) || !(end < limit)) {
    return std::nullopt;
  }
  return *start + std::chrono::duration_cast<Clock::duration>(e.info->elapsed);
}

}  // namespace

Result<Clock::time_point> parse_timestamp(std::string_view text) {
  const std::string_view s = trim(text);
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a timestamp: {}", s, why));
  };
  constexpr std::string_view kShape = "expected YYYY-MM-DD HH:MM:SS[.ffffff][zone]";
  size_t pos = 0;
  auto year = read_digits(s, pos, 4);
  bool ok = year.has_value() && read_char(s, pos, '-');
  auto month = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = month.has_value() && read_char(s, pos, '-');
  auto day = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = day.has_value() && (read_char(s, pos, ' ') || read_char(s, pos, 'T'));
  auto hour = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = hour.has_value() && read_char(s, pos, ':');
  auto minute = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = minute.has_value() && read_char(s, pos, ':');
  auto second = ok ? read_digits(s, pos, 2) : std::nullopt;
  if (!second) {
    return bad(kShape);
  }
  int64_t micros = 0;
  if (read_char(s, pos, '.')) {
    size_t digits = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      if (digits == 6) {
        return bad("more than 6 fractional digits (PostgreSQL keeps microseconds)");
      }
      micros = micros * 10 + (s[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0) {
      return bad("no digits after '.'");
    }
    for (; digits < 6; ++digits) {
      micros *= 10;
    }
  }
  if (*year < 1 || *month < 1 || *month > 12 || *day < 1 || *day > days_in_month(*year, *month)) {
    return bad(fmt::format("no such date {:04}-{:02}-{:02}", *year, *month, *day));
  }
  if (*hour > 23 || *minute > 59 || *second > 59) {
    return bad(fmt::format("no such time of day {:02}:{:02}:{:02}", *hour, *minute, *second));
  }

  // Zone.
  while (pos < s.size() && s[pos] == ' ') {
    ++pos;
  }
  std::string_view zone = s.substr(pos);
  std::optional<int> offset_seconds;  // east of UTC
  if (zone.empty()) {
    offset_seconds = std::nullopt;
  } else if (zone == "Z" || zone == "z" || lower(zone) == "utc") {
    offset_seconds = 0;
  } else if (zone.front() == '+' || zone.front() == '-') {
    const int sign = zone.front() == '-' ? -1 : 1;
    std::string_view rest = zone.substr(1);
    std::optional<int> zh;
    std::optional<int> zm = 0;
    if (rest.size() == 2) {
      zh = parse_decimal<int>(rest);
    } else if (rest.size() == 4) {
      zh = parse_decimal<int>(rest.substr(0, 2));
      zm = parse_decimal<int>(rest.substr(2));
    } else if (rest.size() == 5 && rest[2] == ':') {
      zh = parse_decimal<int>(rest.substr(0, 2));
      zm = parse_decimal<int>(rest.substr(3));
    }
    if (!zh || !zm || *zh > 15 || *zm > 59) {
      return bad(fmt::format("zone '{}': expected Z, UTC, +HH, +HH:MM or +HHMM", zone));
    }
    offset_seconds = sign * (*zh * 3600 + *zm * 60);
  } else {
    return bad(fmt::format("zone '{}': expected Z, UTC, +HH, +HH:MM or +HHMM", zone));
  }

  std::chrono::seconds since_epoch{};
  if (offset_seconds) {
    const int64_t days =
        days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
    const int64_t clock = int64_t{*hour} * 3600 + int64_t{*minute} * 60 + *second;
    since_epoch = std::chrono::seconds(days * 86400 + clock - *offset_seconds);
  } else {
    // No zone: this machine's local time (mktime, with DST decided by the rules of that date).
    // PostgreSQL reads a zone-less recovery_target_time in ITS TimeZone setting, which may
    // differ; the text is still passed through verbatim, this value only selects a backup.
    std::tm fields{};
    fields.tm_year = *year - 1900;
    fields.tm_mon = *month - 1;
    fields.tm_mday = *day;
    fields.tm_hour = *hour;
    fields.tm_min = *minute;
    fields.tm_sec = *second;
    fields.tm_isdst = -1;
    const std::tm wanted = fields;
    const std::time_t t = std::mktime(&fields);
    if (t == static_cast<std::time_t>(-1) && !(wanted.tm_year == 69 && wanted.tm_mon == 11 &&
                                               wanted.tm_mday == 31 && wanted.tm_hour == 23)) {
      return bad("not representable in local time");
    }
    // mktime moves a time inside a daylight-saving gap; such a local time never happened.
    if (fields.tm_hour != wanted.tm_hour || fields.tm_min != wanted.tm_min ||
        fields.tm_mday != wanted.tm_mday) {
      return bad("that local time does not exist (daylight-saving gap); give a zone");
    }
    since_epoch = std::chrono::seconds(static_cast<int64_t>(t));
  }
  // The clock's ticks may be finer than microseconds (nanoseconds in 64 bits: 1677 to 2262), so
  // check the range in microseconds, which hold any year we parse, before converting.
  const auto total = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch) +
                     std::chrono::microseconds(micros);
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::duration::max());
  if (total > kLimit || total < -kLimit) {
    return bad("outside the range of the system clock");
  }
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(total));
}

Result<Position> parse_position(std::string_view text) {
  Position p;
  if (trim(text).empty()) {
    return p;
  }
  std::set<std::string> seen;  // lower-case keys and words
  bool mode_given = false;

  auto set_target = [&](TargetKind kind, std::string_view value,
                        std::string_view word) -> Result<void> {
    if (p.target != TargetKind::kNone) {
      return tl::unexpected(
          invalid(fmt::format("more than one recovery target ({} and {})", target_word(p), word)));
    }
    p.target = kind;
    p.value = std::string(value);
    return {};
  };

  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      comma = text.size();
    }
    const std::string_view word = trim(text.substr(start, comma - start));
    start = comma + 1;

    if (word.empty()) {
      return tl::unexpected(invalid(
          fmt::format("empty word in '{}' (words are separated by single commas)", trim(text))));
    }
    if (word.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
      return tl::unexpected(
          invalid(fmt::format("'{}' holds a newline or NUL, which no setting may hold", word)));
    }

    const size_t eq = word.find('=');
    if (eq == std::string_view::npos) {
      const std::string w = lower(word);
      const bool known = w == "current" || w == "immediate" || w == "primary" || w == "replica";
      if (!known) {
        return tl::unexpected(invalid(fmt::format(
            "unknown word '{}': expected current, immediate, primary, replica, name=, xid=, "
            "lsn=, time=, inclusive=, timeline=, action= or setting=value",
            word)));
      }
      if (!seen.insert(w).second) {
        return tl::unexpected(invalid(fmt::format("{} given twice", w)));
      }
      if (w == "current") {
        PGM_TRY(set_target(TargetKind::kCurrent, "", "current"));
      } else if (w == "immediate") {
        PGM_TRY(set_target(TargetKind::kImmediate, "", "immediate"));
      } else {
        if (mode_given) {
          return tl::unexpected(invalid("primary and replica both given"));
        }
        mode_given = true;
        p.mode = w == "replica" ? Mode::kReplica : Mode::kPrimary;
      }
      continue;
    }

    const std::string_view key = trim(word.substr(0, eq));
    const std::string_view value = trim(word.substr(eq + 1));
    const std::string k = lower(key);
    if (key.empty()) {
      return tl::unexpected(invalid(fmt::format("'{}' has no key before '='", word)));
    }
    if (!seen.insert(k).second) {
      return tl::unexpected(invalid(fmt::format("{} given twice", k)));
    }
    if (k == "current" || k == "immediate" || k == "primary" || k == "replica") {
      return tl::unexpected(invalid(fmt::format("'{}': {} takes no value", word, k)));
    }
    const bool ours = k == "name" || k == "xid" || k == "lsn" || k == "time" || k == "inclusive" ||
                      k == "timeline" || k == "action";
    if (ours && value.empty()) {
      return tl::unexpected(invalid(fmt::format("{}= needs a value", k)));
    }

    if (k == "name") {
      PGM_TRY(set_target(TargetKind::kName, value, word));
    } else if (k == "xid") {
      auto xid = parse_decimal<uint64_t>(value);
      if (!xid || *xid == 0) {
        return tl::unexpected(invalid(
            fmt::format("xid={} is not a transaction id (expected a decimal number > 0)", value)));
      }
      PGM_TRY(set_target(TargetKind::kXid, value, word));
      p.xid = xid;
    } else if (k == "lsn") {
      auto lsn = backup::parse_lsn(value);
      if (!lsn) {
        return tl::unexpected(
            invalid(fmt::format("lsn={} is not an LSN (expected X/X in hex)", value)));
      }
      PGM_TRY(set_target(TargetKind::kLsn, value, word));
      p.lsn = lsn;
    } else if (k == "time") {
      auto time = parse_timestamp(value);
      if (!time) {
        return tl::unexpected(invalid(fmt::format("time={}: {}", value, time.error().message())));
      }
      PGM_TRY(set_target(TargetKind::kTime, value, word));
      p.time = *time;
    } else if (k == "inclusive") {
      p.inclusive = parse_bool(value);
      if (!p.inclusive) {
        return tl::unexpected(invalid(
            fmt::format("inclusive={}: expected on, off, true, false, yes, no, 1 or 0", value)));
      }
    } else if (k == "timeline") {
      const std::string v = lower(value);
      auto number = parse_decimal<uint32_t>(value);
      if (v == "latest" || v == "current") {
        p.timeline = v;
      } else if (number && *number > 0) {
        p.timeline = std::to_string(*number);
      } else {
        return tl::unexpected(invalid(
            fmt::format("timeline={}: expected latest, current or a timeline number > 0", value)));
      }
    } else if (k == "action") {
      const std::string v = lower(value);
      if (v != "pause" && v != "promote" && v != "shutdown") {
        return tl::unexpected(
            invalid(fmt::format("action={}: expected pause, promote or shutdown", value)));
      }
      p.action = v;
    } else {
      if (!is_guc_name(key)) {
        return tl::unexpected(invalid(fmt::format(
            "'{}' is not a setting name (letters, digits, '_' and '.', not starting with a digit)",
            key)));
      }
      if (auto hint = reserved_key_hint(k)) {
        return tl::unexpected(invalid(fmt::format(
            "{} is written by pgmoneta restore and cannot be passed through; use {} instead", key,
            *hint)));
      }
      p.extra.emplace_back(std::string(key), std::string(value));
    }
  }
  return p;
}

Result<const backup::BackupEntry*> select_backup(const std::vector<backup::BackupEntry>& entries,
                                                 std::string_view id, const Position& position,
                                                 std::string_view server) {
  const bool lsn_target = position.target == TargetKind::kLsn && position.lsn.has_value();
  const bool time_target = position.target == TargetKind::kTime && position.time.has_value();
  // 0 = no timeline selection (timelines start at 1).
  uint32_t timeline = 0;
  if (!lsn_target && !time_target) {
    timeline = parse_decimal<uint32_t>(position.timeline).value_or(0);
  }

  if (id != "newest" && id != "latest") {
    PGM_ASSIGN_OR_RETURN(const backup::BackupEntry* pick,
                         backup::resolve_backup(entries, id, server));
    if (!pick->info) {
      return pick;
    }
    if (lsn_target && pick->info->end_lsn > *position.lsn) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("restore target lsn={} is before the end of backup {} (end lsn {}): "
                      "choose an older backup or newest",
                      position.value, pick->label, backup::format_lsn(pick->info->end_lsn)));
    }
    if (time_target) {
      auto end = end_time(*pick);
      if (end && *end > *position.time) {
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("restore target time={} is before the end of backup {} (ends at {}): "
                        "choose an older backup or newest",
                        position.value, pick->label, format_local_time(*end)));
      }
    }
    return pick;
  }

  if (!lsn_target && !time_target && timeline == 0) {
    return backup::resolve_backup(entries, id, server);
  }

  const backup::BackupEntry* pick = nullptr;
  const backup::BackupEntry* oldest = nullptr;
  const backup::BackupEntry* newest = nullptr;
  for (const backup::BackupEntry& e : entries) {
    if (!e.valid()) {
      continue;
    }
    if (oldest == nullptr || e.label < oldest->label) {
      oldest = &e;
    }
    if (newest == nullptr || e.label > newest->label) {
      newest = &e;
    }
    bool fits = false;
    if (lsn_target) {
      fits = e.info->end_lsn <= *position.lsn;
    } else if (time_target) {
      auto end = end_time(e);
      fits = end.has_value() && *end <= *position.time;
    } else {
      fits = e.info->start_timeline == timeline;
    }
    if (fits && (pick == nullptr || e.label > pick->label)) {
      pick = &e;
    }
  }
  if (pick != nullptr) {
    return pick;
  }
  if (oldest == nullptr) {
    // No valid backup at all: resolve_backup's message says so, with the count of invalid ones.
    return backup::resolve_backup(entries, id, server);
  }
  if (lsn_target) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no valid backup{} ends before lsn={} (the oldest, {}, ends at "
                                  "lsn {})",
                                  of_server(server), position.value, oldest->label,
                                  backup::format_lsn(oldest->info->end_lsn)));
  }
  if (time_target) {
    auto end = end_time(*oldest);
    return make_error(
        ErrorCode::kNotFound,
        fmt::format("no valid backup{} ends before time={} (the oldest, {}, ends at {})",
                    of_server(server), position.value, oldest->label,
                    end ? format_local_time(*end) : std::string("an unknown time")));
  }
  return make_error(
      ErrorCode::kNotFound,
      fmt::format("no valid backup{} on timeline {} (the newest, {}, starts on "
                  "timeline {})",
                  of_server(server), timeline, newest->label, newest->info->start_timeline));
}

}  // namespace pgm::restore
