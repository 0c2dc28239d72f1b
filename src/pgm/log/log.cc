#include "pgm/log/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <sys/file.h>
#include <sys/stat.h>

#include "pgm/core/unique_fd.h"

namespace pgm::log {
namespace {

// How long a process waits before retrying a rotation that failed (rename refused, ...).
constexpr time_t kRotationRetrySeconds = 10;
constexpr int kMaxRotationSuffix = 10000;

// Checked on every log call without taking the mutex.
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

struct State {
  std::mutex mu;
  Options options;
  std::vector<std::string>* capture = nullptr;
  // File sink.
  UniqueFd fd;
  std::string file_path;  // the expanded path `fd` was opened as
  dev_t dev = 0;
  ino_t ino = 0;
  time_t opened_at = 0;
  time_t last_check = 0;
  time_t retry_rotation_at = 0;
  // Syslog sink: openlog() keeps the ident pointer, so the string lives here.
  bool syslog_open = false;
  std::string syslog_ident;
};

State& state() {
  // Never destroyed: threads may still log while static destructors run.
  static State* s = [] {
    auto* st = new State;
    // A fork while another thread holds the mutex must not leave the child's copy locked.
    ::pthread_atfork([] { state().mu.lock(); }, [] { state().mu.unlock(); },
                     [] { state().mu.unlock(); });
    return st;
  }();
  return *s;
}

std::string format_time(const std::string& format, time_t when) {
  if (format.empty()) {
    return {};
  }
  struct tm tm {};
  ::localtime_r(&when, &tm);
  std::string out(format.size() * 4 + 64, '\0');
  size_t n = ::strftime(out.data(), out.size(), format.c_str(), &tm);
  out.resize(n);
  return out;
}

std::string expand_path(const std::string& path_template, time_t when) {
  if (path_template.find('%') == std::string::npos) {
    return path_template;
  }
  std::string expanded = format_time(path_template, when);
  return expanded.empty() ? path_template : expanded;
}

// "<LABEL> <message>", CR/LF inside the message turned into spaces, trailing ones dropped.
std::string format_body(Level level, std::string_view message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  std::string_view label = level_label(level);
  std::string body;
  body.reserve(label.size() + 1 + message.size() + 1);
  body += label;
  body += ' ';
  for (char c : message) {
    body += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return body;
}

// "<prefix> <LABEL> <message>[\n]".
std::string format_line(const State& s, Level level, std::string_view message, bool newline) {
  std::string line = format_time(s.options.line_prefix, ::time(nullptr));
  if (!line.empty()) {
    line += ' ';
  }
  line += format_body(level, message);
  if (newline) {
    line += '\n';
  }
  return line;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // nowhere to report a failing log sink
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

struct OpenedFile {
  UniqueFd fd;
  std::string path;
  dev_t dev;
  ino_t ino;
};

Result<OpenedFile> open_log_file(const std::string& path_template, bool truncate, time_t now) {
  std::string path = expand_path(path_template, now);
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  UniqueFd fd(::open(path.c_str(), flags, 0640));
  if (!fd) {
    return make_errno_error("open log file " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_errno_error("stat log file " + path, errno);
  }
  return OpenedFile{std::move(fd), std::move(path), st.st_dev, st.st_ino};
}

void install_file(State& s, OpenedFile file, time_t now) {
  s.fd = std::move(file.fd);
  s.file_path = std::move(file.path);
  s.dev = file.dev;
  s.ino = file.ino;
  s.opened_at = now;
  s.last_check = now;
}

// True when `path` no longer names the file open as s.fd (renamed, removed, replaced).
bool path_moved(const State& s) {
  struct stat st {};
  if (::stat(s.file_path.c_str(), &st) != 0) {
    return true;
  }
  return st.st_dev != s.dev || st.st_ino != s.ino;
}

void reopen_locked(State& s, time_t now) {
  auto file = open_log_file(s.options.path, false, now);
  if (file) {
    install_file(s, std::move(*file), now);
  }
}

// Renames s.file_path to "<path>.<YYYYMMDDHHMMSS>[.N]" without replacing an existing file.
bool rename_aside(const State& s, time_t now) {
  std::string base = s.file_path + "." + format_time("%Y%m%d%H%M%S", now);
  for (int i = 0; i < kMaxRotationSuffix; ++i) {
    std::string target = i == 0 ? base : base + "." + std::to_string(i);
    if (::renameat2(AT_FDCWD, s.file_path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) ==
        0) {
      return true;
    }
    if (errno == EEXIST) {
      continue;
    }
    if (errno == EINVAL || errno == ENOSYS) {  // file system without RENAME_NOREPLACE
      struct stat st {};
      if (::lstat(target.c_str(), &st) == 0) {
        continue;
      }
      return ::rename(s.file_path.c_str(), target.c_str()) == 0;
    }
    return false;
  }
  return false;
}

void rotate_locked(State& s, time_t now) {
  // The lock is taken on a descriptor of our own: s.fd may be shared with forked processes
  // (same open file description), and flock() would not exclude them.
  UniqueFd lock_fd(::open(s.file_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!lock_fd) {
    reopen_locked(s, now);  // the path is gone: someone rotated or removed it
    return;
  }
  int rc;
  do {
    rc = ::flock(lock_fd.get(), LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    s.retry_rotation_at = now + kRotationRetrySeconds;
    return;
  }
  if (path_moved(s)) {  // another process rotated first
    reopen_locked(s, now);
    return;
  }
  std::string next_path = expand_path(s.options.path, now);
  if (next_path == s.file_path && !rename_aside(s, now)) {
    s.retry_rotation_at = now + kRotationRetrySeconds;
    return;
  }
  auto file = open_log_file(s.options.path, false, now);
  if (!file) {
    s.retry_rotation_at = now + kRotationRetrySeconds;
    return;
  }
  install_file(s, std::move(*file), now);
  // lock_fd closes here and releases the lock, after the new file exists.
}

void after_file_write(State& s) {
  time_t now = ::time(nullptr);
  const Options& o = s.options;
  bool due = false;
  if (now >= s.retry_rotation_at) {
    if (o.rotation_size > 0) {
      struct stat st {};
      due = ::fstat(s.fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= o.rotation_size;
    }
    if (o.rotation_age.count() > 0 && now - s.opened_at >= o.rotation_age.count()) {
      due = true;
    }
  }
  if (due) {
    rotate_locked(s, now);
    return;
  }
  if (now != s.last_check) {
    s.last_check = now;
    if (path_moved(s) || expand_path(o.path, now) != s.file_path) {
      reopen_locked(s, now);
    }
  }
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::kFatal:
      return LOG_CRIT;
    case Level::kError:
      return LOG_ERR;
    case Level::kWarn:
      return LOG_WARNING;
    case Level::kInfo:
      return LOG_INFO;
    default:
      return LOG_DEBUG;
  }
}

void close_sinks(State& s, Type keep) {
  if (keep != Type::kSyslog && s.syslog_open) {
    ::closelog();
    s.syslog_open = false;
  }
  if (keep != Type::kFile) {
    s.fd.reset();
    s.file_path.clear();
  }
}

}  // namespace

Result<void> configure(const Options& options) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  ::tzset();
  time_t now = ::time(nullptr);
  switch (options.type) {
    case Type::kConsole:
      break;
    case Type::kFile: {
      if (options.path.empty()) {
        return make_error(ErrorCode::kConfig, "log_type = file needs log_path");
      }
      bool same_file = s.options.type == Type::kFile && s.fd &&
                       expand_path(options.path, now) == s.file_path && !path_moved(s);
      if (!same_file) {
        PGM_ASSIGN_OR_RETURN(OpenedFile file, open_log_file(options.path, !options.append, now));
        install_file(s, std::move(file), now);
      }
      s.retry_rotation_at = 0;
      break;
    }
    case Type::kSyslog:
      if (s.syslog_open) {
        ::closelog();
      }
      s.syslog_ident = options.ident.empty() ? "pgmoneta" : options.ident;
      ::openlog(s.syslog_ident.c_str(), LOG_PID, LOG_USER);
      s.syslog_open = true;
      break;
  }
  close_sinks(s, options.type);
  s.options = options;
  s.capture = nullptr;
  g_level.store(static_cast<int>(options.level), std::memory_order_relaxed);
  return {};
}

Options options() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Options o = s.options;
  o.level = level();
  return o;
}

void set_level(Level lvl) { g_level.store(static_cast<int>(lvl), std::memory_order_relaxed); }

Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool enabled(Level lvl) { return static_cast<int>(lvl) >= g_level.load(std::memory_order_relaxed); }

void reopen() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.options.type == Type::kFile) {
    reopen_locked(s, ::time(nullptr));
  }
}

void capture_to(std::vector<std::string>* lines) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.capture = lines;
}

namespace {
std::atomic<std::atomic<uint64_t>*> g_line_counters{nullptr};
}  // namespace

void count_lines_in(std::atomic<uint64_t>* counters) { g_line_counters.store(counters); }

void write(Level lvl, std::string_view message) {
  if (!enabled(lvl)) {
    return;
  }
  if (std::atomic<uint64_t>* counters = g_line_counters.load(std::memory_order_relaxed)) {
    counters[static_cast<int>(lvl)].fetch_add(1, std::memory_order_relaxed);
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.capture != nullptr) {
    s.capture->push_back(format_line(s, lvl, message, false));
    return;
  }
  switch (s.options.type) {
    case Type::kConsole:
      write_all(STDERR_FILENO, format_line(s, lvl, message, true));
      break;
    case Type::kFile:
      if (s.fd) {
        write_all(s.fd.get(), format_line(s, lvl, message, true));
        after_file_write(s);
      }
      break;
    case Type::kSyslog: {
      // syslog adds its own time stamp: no prefix.
      std::string body = format_body(lvl, message);
      ::syslog(syslog_priority(lvl), "%s", body.c_str());
      break;
    }
  }
}

}  // namespace pgm::log
