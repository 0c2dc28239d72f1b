#include "pgm/daemon/child_record.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "pgm/core/unique_fd.h"
#include "pgm/io/file.h"
#include "pgm/io/process.h"
#include "pgm/log/log.h"

namespace pgm::daemon {

namespace {

constexpr std::string_view kHeader = "pgmoneta children";

uint64_t start_time_of(pid_t pid) {
  std::optional<io::ProcessStat> stat = io::read_process_stat(pid);
  return stat ? stat->start_time : 0;
}

// Still the very process that was recorded, and not yet a zombie.
bool still_running(const RecordedProcess& p) {
  std::optional<io::ProcessStat> stat = io::read_process_stat(p.pid);
  return stat && stat->state != 'Z' && stat->state != 'X' && p.start_time != 0 &&
         stat->start_time == p.start_time;
}

}  // namespace

std::string format_children_record(const ChildrenRecord& record) {
  std::string text = fmt::format("{}\nboot {}\nmain {} {}\n", kHeader, record.boot_id,
                                 record.main.pid, record.main.start_time);
  for (const RecordedProcess& c : record.children) {
    text += fmt::format("child {} {} {}\n", c.pid, c.start_time, c.what);
  }
  return text;
}

std::optional<ChildrenRecord> parse_children_record(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != kHeader) {
    return std::nullopt;
  }
  ChildrenRecord record;
  bool have_boot = false;
  bool have_main = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "boot") {
      have_boot = static_cast<bool>(fields >> record.boot_id);
      continue;
    }
    RecordedProcess p;
    std::string pid;
    if ((kind != "main" && kind != "child") || !(fields >> pid >> p.start_time)) {
      return std::nullopt;
    }
    std::optional<pid_t> parsed = io::parse_pid(pid);
    if (!parsed) {
      return std::nullopt;
    }
    p.pid = *parsed;
    if (kind == "main") {
      p.what = "main";
      record.main = p;
      have_main = true;
    } else {
      std::getline(fields >> std::ws, p.what);
      record.children.push_back(std::move(p));
    }
  }
  if (!have_boot || !have_main) {
    return std::nullopt;
  }
  return record;
}

ChildRecordFile::ChildRecordFile(const std::string& base_dir) : path_(base_dir + "/" + kFileName) {
  record_.boot_id = io::boot_id();
  record_.main = {::getpid(), start_time_of(::getpid()), "main"};
}

void ChildRecordFile::write(const std::map<pid_t, std::string>& children) {
  record_.children.clear();
  for (const auto& [pid, what] : children) {
    // Read in the parent right after fork: the child cannot be reaped before the loop runs
    // again, so its /proc entry is there (a zombie at worst).
    record_.children.push_back({pid, start_time_of(pid), what});
  }
  const std::string text = format_children_record(record_);
  const std::string temp = path_ + ".tmp";
  auto fail = [&](const char* what, int error) {
    std::string line = fmt::format("record the daemon's children in {}: {}: {}", path_, what,
                                   std::strerror(error));  // NOLINT(concurrency-mt-unsafe)
    if (failing_) {
      log::debug("{}", line);
    } else {
      log::warn("{}", line);
    }
    failing_ = true;
    ::unlink(temp.c_str());
  };
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) {
    fail("open", errno);
    return;
  }
  ssize_t written = ::write(fd.get(), text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size())) {
    // A short write of a few hundred bytes only happens when the file system is full.
    fail("write", written < 0 ? errno : ENOSPC);
    return;
  }
  fd.reset();
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    fail("rename", errno);
    return;
  }
  if (failing_) {
    log::info("recording the daemon's children in {} again", path_);
    failing_ = false;
  }
}

size_t stop_leftover_children(const std::string& base_dir, std::chrono::milliseconds grace) {
  const std::string path = base_dir + "/" + ChildRecordFile::kFileName;
  auto text = io::read_file(path);
  if (!text) {
    return 0;
  }
  std::optional<ChildrenRecord> record = parse_children_record(*text);
  if (!record) {
    log::warn("ignoring {}: not a record of pgmoneta's children", path);
    return 0;
  }
  if (record->boot_id != io::boot_id() || record->main.pid == ::getpid() ||
      still_running(record->main)) {
    return 0;
  }
  const std::string executable = io::process_executable(::getpid());
  std::vector<RecordedProcess> leftovers;
  for (const RecordedProcess& c : record->children) {
    std::optional<io::ProcessStat> stat = io::read_process_stat(c.pid);
    if (c.pid == ::getpid() || !still_running(c) || !stat || stat->ppid == record->main.pid ||
        executable.empty() || io::process_executable(c.pid) != executable) {
      continue;
    }
    ::kill(c.pid, SIGTERM);
    ::kill(c.pid, SIGCONT);  // a stopped process handles SIGTERM only once it runs
    leftovers.push_back(c);
  }
  auto any_running = [&leftovers] {
    return std::any_of(leftovers.begin(), leftovers.end(), still_running);
  };
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (any_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const RecordedProcess& c : leftovers) {
    const bool killed = still_running(c);
    if (killed) {
      ::kill(c.pid, SIGKILL);
    }
    log::warn("stopped process {} ({}) left running by pgmoneta process {}, which is gone{}", c.pid,
              c.what, record->main.pid, killed ? " (SIGKILL)" : "");
  }
  // SIGKILL takes effect at once, but the process releases its locks and ports as it exits.
  const auto killed_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (any_running() && std::chrono::steady_clock::now() < killed_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return leftovers.size();
}

}  // namespace pgm::daemon
