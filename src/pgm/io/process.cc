#include "pgm/io/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <string>

#include "pgm/core/unique_fd.h"

namespace pgm::io {

namespace {

constexpr std::string_view kSpaces = " \t\r\n";

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(kSpaces) - first + 1);
}

// The next space-separated field of `rest`, which then starts after it.
std::string_view next_field(std::string_view& rest) {
  const size_t begin = rest.find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    rest = {};
    return {};
  }
  const size_t end = std::min(rest.find(' ', begin), rest.size());
  std::string_view field = rest.substr(begin, end - begin);
  rest.remove_prefix(end);
  return field;
}

template <typename T>
bool parse_number(std::string_view digits, T& out) {
  auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return !digits.empty() && err == std::errc() && ptr == digits.data() + digits.size();
}

// A /proc file read with read(2): it fails with ESRCH once the process is gone, and a
// std::ifstream would then throw from its buffer. "" when absent or unreadable.
std::string read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string text;
  std::array<char, 1024> buf{};
  while (fd) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return {};
    }
    if (n == 0) {
      break;
    }
    text.append(buf.data(), static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

std::optional<pid_t> parse_pid(std::string_view text) {
  pid_t pid = 0;
  std::string_view digits = trim(text);
  if (digits.empty() || digits.front() == '-' || digits.front() == '+' ||
      !parse_number(digits, pid) || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

bool process_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) {
    return false;
  }
  std::optional<ProcessStat> stat = read_process_stat(pid);
  if (!stat) {
    // Reaped between the two looks, or no /proc: kill() answers alone.
    return ::kill(pid, 0) == 0 || errno == EPERM;
  }
  return stat->state != 'Z' && stat->state != 'X';
}

std::optional<ProcessStat> parse_process_stat(std::string_view text) {
  // "<pid> (<comm>) <state> <ppid> <pgrp> <session> <tty> <tpgid> <flags> <minflt> <cminflt>
  // <majflt> <cmajflt> <utime> <stime> <cutime> <cstime> <priority> <nice> <threads>
  // <itrealvalue> <starttime> ...": the fields after the last ')', starttime the 20th.
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(close + 1);
  ProcessStat stat;
  std::string_view state = next_field(rest);
  if (state.size() != 1) {
    return std::nullopt;
  }
  stat.state = state.front();
  if (!parse_number(next_field(rest), stat.ppid)) {
    return std::nullopt;
  }
  for (int i = 0; i < 17; ++i) {  // pgrp .. itrealvalue
    if (next_field(rest).empty()) {
      return std::nullopt;
    }
  }
  if (!parse_number(next_field(rest), stat.start_time)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<ProcessStat> read_process_stat(pid_t pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  const std::string text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  return text.empty() ? std::nullopt : parse_process_stat(text);
}

std::string process_executable(pid_t pid) {
  std::array<char, 4096> buf{};
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size() - 1);
  if (n <= 0) {
    return {};
  }
  std::string path(buf.data(), static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) {
    path.resize(path.size() - kDeleted.size());
  }
  return path;
}

std::string boot_id() {
  return std::string(trim(read_small_file("/proc/sys/kernel/random/boot_id")));
}

}  // namespace pgm::io
