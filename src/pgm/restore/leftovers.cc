#include "pgm/restore/leftovers.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <optional>
#include <regex>
#include <system_error>

#include <sys/types.h>

#include "pgm/log/log.h"

namespace pgm::restore {

namespace fs = std::filesystem;

namespace {

std::optional<pid_t> parse_pid(std::string_view digits) {
  pid_t pid = 0;
  auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (err != std::errc() || ptr != digits.data() + digits.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

size_t remove_if_dead(const std::string& dir, const std::regex& pattern) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, pattern)) {
      continue;
    }
    std::optional<pid_t> pid = parse_pid(m[1].str());
    if (!pid || alive(*pid)) {
      continue;
    }
    std::error_code rec;
    fs::remove_all(it->path(), rec);
    if (rec) {
      log::warn("remove leftover {} of process {}: {}", it->path().string(), *pid, rec.message());
    } else {
      log::info("removed leftover {} of process {}, which is gone", it->path().string(), *pid);
      ++removed;
    }
  }
  return removed;
}

}  // namespace

size_t remove_dead_workspace_leftovers(const std::string& workspace) {
  // <kind>-<server>-<14-digit label>-<pid>, optionally -tblspc_<name>.
  static const std::regex kPattern("(?:proven|archive)-.+-[0-9]{14}-([0-9]+)(?:-tblspc_.*)?");
  return remove_if_dead(workspace, kPattern);
}

size_t remove_dead_temp_files(const std::string& dir, std::string_view prefix) {
  std::string escaped;
  for (char c : prefix) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) {
      escaped.push_back('\\');
    }
    escaped.push_back(c);
  }
  return remove_if_dead(dir, std::regex(escaped + ".*\\.tmp\\.([0-9]+)"));
}

}  // namespace pgm::restore
