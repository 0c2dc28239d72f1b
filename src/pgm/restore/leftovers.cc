#include "pgm/restore/leftovers.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <system_error>

#include <sys/types.h>

#include "pgm/io/process.h"
#include "pgm/log/log.h"

namespace pgm::restore {

namespace fs = std::filesystem;

namespace {

size_t remove_if_dead(const std::string& dir, const std::regex& pattern) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, pattern)) {
      continue;
    }
    std::optional<pid_t> pid = io::parse_pid(m[1].str());
    if (!pid || io::process_alive(*pid)) {
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

bool clear_abandoned_restore(const std::string& target) {
  std::ifstream mark(target + "/" + kRestoreMarker);
  std::string line;
  if (!mark || !std::getline(mark, line) || !line.starts_with("pid=")) {
    return false;
  }
  std::optional<pid_t> pid = io::parse_pid(std::string_view(line).substr(4));
  if (!pid || io::process_alive(*pid)) {
    return false;
  }
  log::warn("{} is a restore that process {} left incomplete: removing it to restore again", target,
            *pid);
  std::error_code ec;
  for (fs::directory_iterator it(target, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code rec;
    fs::remove_all(it->path(), rec);
  }
  const fs::path t(target);
  const std::string tablespaces = t.filename().string() + "-tblspc_";
  for (fs::directory_iterator it(t.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(tablespaces)) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
    }
  }
  return true;
}

}  // namespace pgm::restore
