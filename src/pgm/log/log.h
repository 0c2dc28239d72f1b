// The process-wide logger: one sink (stderr, file or syslog) and one level per process.
// Thread-safe; a forked child inherits the configuration and the open file.
//
// Configure it at start-up and after SIGHUP with configure(). Log through the PGM_LOG_* macros:
// they check the level before evaluating any argument, so a disabled line costs one atomic load.
// The function templates (log::info(...)) check the level before formatting but, being
// functions, evaluate their arguments first.
//
// Line format: "<strftime line_prefix> <LABEL> <message>\n" (no prefix part when line_prefix is
// empty). CR and LF inside a message become spaces, so one call is one line.
//
// File sink: opened O_APPEND|O_CLOEXEC, each line written with one write(2), so lines of several
// processes sharing the file never interleave. Rotation (size after a write, age since the file
// was opened) is done by whichever process sees the need first, under flock(2) on the file:
// it renames the file to "<path>.<YYYYMMDDHHMMSS>" (".N" appended when taken) and opens a new
// one. The other processes notice (inode of <path> checked at most once a second and whenever
// their own check fires) and reopen. The logger never exits the process, not even for FATAL.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "pgm/core/result.h"
#include "pgm/log/level.h"

namespace pgm::log {

enum class Type { kConsole, kFile, kSyslog };

struct Options {
  Type type = Type::kConsole;
  Level level = Level::kInfo;
  std::string path = "pgmoneta.log";     // file sink; strftime escapes expanded at each open
  bool append = true;                    // log_mode: append, or create (truncate at configure)
  std::chrono::seconds rotation_age{0};  // 0 = off
  uint64_t rotation_size = 0;            // bytes, 0 = off
  std::string line_prefix = "%Y-%m-%d %H:%M:%S";
  std::string ident = "pgmoneta";  // syslog identity
};

// Replaces the sink and level. On error (file cannot be opened, ...) the previous sink and level
// stay in place. With append = false the file is truncated unless it is the one already open.
Result<void> configure(const Options& options);
// The options last configured (defaults: console at info).
Options options();

void set_level(Level level);
Level level();
// True when a line at `level` would be written. One relaxed atomic load.
bool enabled(Level level);

// Reopens the log file by name (no truncation); for SIGHUP or an external logrotate.
// No-op for the other sinks.
void reopen();

// Sends lines to `lines` (no trailing newline, prefix included) instead of the sink, for tests.
// `lines` must outlive the capture; nullptr ends it (back to the configured sink), and so does
// configure(). Single-threaded tests only: the vector is not guarded for outside readers.
void capture_to(std::vector<std::string>* lines);

// Counts every line written from now on in counters[static_cast<int>(level)] (so the array
// needs kLineCounterSlots elements), e.g. an array in shared memory that forked children keep
// using; nullptr stops counting. Lines below the level are not counted.
inline constexpr size_t kLineCounterSlots = 10;
void count_lines_in(std::atomic<uint64_t>* counters);

// Writes one line if `level` is enabled.
void write(Level level, std::string_view message);

template <typename... A>
void log(Level lvl, fmt::format_string<A...> format, A&&... args) {
  if (enabled(lvl)) {
    write(lvl, fmt::format(format, std::forward<A>(args)...));
  }
}
template <typename... A>
void fatal(fmt::format_string<A...> format, A&&... args) {
  log(Level::kFatal, format, std::forward<A>(args)...);
}
template <typename... A>
void error(fmt::format_string<A...> format, A&&... args) {
  log(Level::kError, format, std::forward<A>(args)...);
}
template <typename... A>
void warn(fmt::format_string<A...> format, A&&... args) {
  log(Level::kWarn, format, std::forward<A>(args)...);
}
template <typename... A>
void info(fmt::format_string<A...> format, A&&... args) {
  log(Level::kInfo, format, std::forward<A>(args)...);
}
template <typename... A>
void debug(fmt::format_string<A...> format, A&&... args) {
  log(Level::kDebug1, format, std::forward<A>(args)...);
}
template <typename... A>
void trace(fmt::format_string<A...> format, A&&... args) {
  log(Level::kDebug5, format, std::forward<A>(args)...);
}

}  // namespace pgm::log

// PGM_LOG(level, "fmt", args...): arguments are evaluated only when the level is enabled.
#define PGM_LOG(lvl, ...)                                          \
  do {                                                             \
    const ::pgm::log::Level pgm_log_level_ = (lvl);                \
    if (::pgm::log::enabled(pgm_log_level_)) {                     \
      ::pgm::log::write(pgm_log_level_, fmt::format(__VA_ARGS__)); \
    }                                                              \
  } while (false)
#define PGM_LOG_FATAL(...) PGM_LOG(::pgm::log::Level::kFatal, __VA_ARGS__)
#define PGM_LOG_ERROR(...) PGM_LOG(::pgm::log::Level::kError, __VA_ARGS__)
#define PGM_LOG_WARN(...) PGM_LOG(::pgm::log::Level::kWarn, __VA_ARGS__)
#define PGM_LOG_INFO(...) PGM_LOG(::pgm::log::Level::kInfo, __VA_ARGS__)
#define PGM_LOG_DEBUG(...) PGM_LOG(::pgm::log::Level::kDebug1, __VA_ARGS__)
#define PGM_LOG_TRACE(...) PGM_LOG(::pgm::log::Level::kDebug5, __VA_ARGS__)
