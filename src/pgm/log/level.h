// Log levels shared by configuration parsing and the logger. Header-only, thread-safe.
//
// pgmoneta's `log_level` values: fatal, error, warn, info, debug1..debug5 (debug = debug1).
// The seed names six levels TRACE, DEBUG, INFO, WARN, ERROR, FATAL: debug1 prints as DEBUG,
// debug2..debug5 print as TRACE ("trace" is accepted as debug5).
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace pgm::log {

enum class Level : int {
  kDebug5 = 1,
  kDebug4 = 2,
  kDebug3 = 3,
  kDebug2 = 4,
  kDebug1 = 5,
  kInfo = 6,
  kWarn = 7,
  kError = 8,
  kFatal = 9,
};

inline std::optional<Level> parse_level(std::string_view text) {
  std::string s;
  for (char c : text) {
    s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (s == "fatal") {
    return Level::kFatal;
  }
  if (s == "error") {
    return Level::kError;
  }
  if (s == "warn" || s == "warning") {
    return Level::kWarn;
  }
  if (s == "info") {
    return Level::kInfo;
  }
  if (s == "debug" || s == "debug1") {
    return Level::kDebug1;
  }
  if (s == "debug2") {
    return Level::kDebug2;
  }
  if (s == "debug3") {
    return Level::kDebug3;
  }
  if (s == "debug4") {
    return Level::kDebug4;
  }
  if (s == "debug5" || s == "trace") {
    return Level::kDebug5;
  }
  return std::nullopt;
}

// The configuration spelling: "info", "debug1", ...
inline std::string_view level_config_name(Level l) {
  switch (l) {
    case Level::kDebug5:
      return "debug5";
    case Level::kDebug4:
      return "debug4";
    case Level::kDebug3:
      return "debug3";
    case Level::kDebug2:
      return "debug2";
    case Level::kDebug1:
      return "debug1";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kFatal:
      return "fatal";
  }
  return "info";
}

// The label printed in log lines: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
inline std::string_view level_label(Level l) {
  switch (l) {
    case Level::kDebug5:
    case Level::kDebug4:
    case Level::kDebug3:
    case Level::kDebug2:
      return "TRACE";
    case Level::kDebug1:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
    case Level::kFatal:
      return "FATAL";
  }
  return "INFO";
}

}  // namespace pgm::log
