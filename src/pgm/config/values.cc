#include "pgm/config/values.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace pgm::config {

namespace {

tl::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kConfig, std::move(message));
}

// Splits "123unit" into the digits and the unit; fails on an empty or non-numeric prefix.
bool split_number(std::string_view text, uint64_t& number, std::string& unit) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return false;
    }
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return false;
  }
  number = n;
  unit = to_lower(trim(text.substr(i)));
  return true;
}

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the daemon never calls setenv.
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string> split_list(std::string_view text, char sep) {
  std::vector<std::string> out;
  while (true) {
    const size_t pos = text.find(sep);
    std::string_view item = trim(text.substr(0, pos));
    if (!item.empty()) {
      out.emplace_back(item);
    }
    if (pos == std::string_view::npos) {
      break;
    }
    text.remove_prefix(pos + 1);
  }
  return out;
}

Result<bool> parse_bool(std::string_view text) {
  const std::string s = to_lower(trim(text));
  if (s == "on" || s == "yes" || s == "1" || s == "true") {
    return true;
  }
  if (s == "off" || s == "no" || s == "0" || s == "false") {
    return false;
  }
  return invalid(
      fmt::format("invalid boolean \"{}\" (expected on, off, yes, no, true, false, 1, 0)", text));
}

std::string format_bool(bool value) { return value ? "on" : "off"; }

Result<int64_t> parse_int(std::string_view text, int64_t min, int64_t max) {
  std::string_view t = trim(text);
  bool negative = false;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  uint64_t n = 0;
  std::string unit;
  if (!split_number(t, n, unit) || !unit.empty() ||
      n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return invalid(fmt::format("invalid integer \"{}\"", text));
  }
  const int64_t value = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
  if (value < min || value > max) {
    return invalid(fmt::format("{} is out of range [{}, {}]", value, min, max));
  }
  return value;
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  uint64_t n = 0;
  std::string unit;
  if (!split_number(trim(text), n, unit)) {
    return invalid(
        fmt::format("invalid duration \"{}\" (expected an integer with optional "
                    "unit s, m, h, d or w)",
                    text));
  }
  uint64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60;
  } else if (unit == "h") {
    factor = 3600;
  } else if (unit == "d") {
    factor = 86400;
  } else if (unit == "w") {
    factor = 604800;
  } else {
    return invalid(
        fmt::format("invalid duration \"{}\": unknown unit \"{}\" (expected s, m, h, "
                    "d or w)",
                    text, unit));
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
  if (n > kMax / factor) {
    return invalid(fmt::format("invalid duration \"{}\": too large", text));
  }
  return std::chrono::seconds(static_cast<int64_t>(n * factor));
}

std::string format_duration(std::chrono::seconds value) {
  const int64_t s = value.count();
  if (s == 0) {
    return "0";
  }
  struct Unit {
    int64_t factor;
    const char* suffix;
  };
  for (const Unit u : {Unit{604800, "w"}, Unit{86400, "d"}, Unit{3600, "h"}, Unit{60, "m"}}) {
    if (s % u.factor == 0) {
      return fmt::format("{}{}", s / u.factor, u.suffix);
    }
  }
  return fmt::format("{}s", s);
}

Result<uint64_t> parse_size(std::string_view text) {
  uint64_t n = 0;
  std::string unit;
  if (!split_number(trim(text), n, unit)) {
    return invalid(
        fmt::format("invalid size \"{}\" (expected an integer with optional unit B, "
                    "K, KB, M, MB, G or GB)",
                    text));
  }
  uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit == "k" || unit == "kb") {
    factor = uint64_t{1} << 10;
  } else if (unit == "m" || unit == "mb") {
    factor = uint64_t{1} << 20;
  } else if (unit == "g" || unit == "gb") {
    factor = uint64_t{1} << 30;
  } else {
    return invalid(
        fmt::format("invalid size \"{}\": unknown unit \"{}\" (expected B, K, KB, M, "
                    "MB, G or GB)",
                    text, unit));
  }
  if (n > std::numeric_limits<uint64_t>::max() / factor) {
    return invalid(fmt::format("invalid size \"{}\": too large", text));
  }
  return n * factor;
}

std::string format_size(uint64_t bytes) {
  if (bytes == 0) {
    return "0";
  }
  if (bytes % (uint64_t{1} << 30) == 0) {
    return fmt::format("{}G", bytes >> 30);
  }
  if (bytes % (uint64_t{1} << 20) == 0) {
    return fmt::format("{}M", bytes >> 20);
  }
  if (bytes % (uint64_t{1} << 10) == 0) {
    return fmt::format("{}K", bytes >> 10);
  }
  return fmt::format("{}", bytes);
}

Result<std::string> interpolate_env(std::string_view text, const EnvLookup& env) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    std::string name;
    size_t end = 0;
    if (text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return invalid(fmt::format("unterminated \"${{\" in \"{}\"", text));
      }
      name = std::string(text.substr(i + 2, close - i - 2));
      if (name.empty() || !is_name_start(name[0]) ||
          !std::all_of(name.begin(), name.end(), is_name_char)) {
        return invalid(fmt::format("invalid variable name \"{}\" in \"{}\"", name, text));
      }
      end = close + 1;
    } else if (is_name_start(text[i + 1])) {
      size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) {
        ++j;
      }
      name = std::string(text.substr(i + 1, j - i - 1));
      end = j;
    } else {
      out += c;
      ++i;
      continue;
    }
    std::optional<std::string> value = env(name);
    if (!value) {
      return invalid(fmt::format("environment variable {} is not defined", name));
    }
    out += *value;
    i = end;
  }
  return out;
}

}  // namespace pgm::config
