#include "pgm/daemon/pid_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <sys/file.h>

#include "pgm/core/unique_fd.h"
#include "pgm/daemon/child_record.h"
#include "pgm/io/file.h"
#include "pgm/io/process.h"
#include "pgm/log/log.h"

namespace pgm::daemon {

Result<PidFile> PidFile::create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd && errno == EEXIST) {
    // A PID file from a crashed daemon must not block a restart; a live one must.
    // A zombie (killed, its parent not yet waiting) is as gone as a reaped process.
    auto content = io::read_file(path);
    pid_t pid = content ? io::parse_pid(*content).value_or(0) : 0;
    if (io::process_alive(pid)) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("PID file {} exists and process {} is running: is pgmoneta "
                                    "already running?",
                                    path, pid));
    }
    log::warn("removing stale PID file {} (process {} is gone)", path, pid);
    ::unlink(path.c_str());
    fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  }
  if (!fd) {
    return make_errno_error(fmt::format("create PID file {}", path), errno);
  }
  std::string text = fmt::format("{}\n", ::getpid());
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    int err = errno;
    ::unlink(path.c_str());
    return make_errno_error(fmt::format("write PID file {}", path), err);
  }
  return PidFile(path, ::getpid());
}

PidFile::PidFile(PidFile&& other) noexcept
    : path_(std::move(other.path_)), owner_(std::exchange(other.owner_, 0)) {}

PidFile::~PidFile() { remove(); }

void PidFile::remove() {
  if (owner_ != 0 && owner_ == ::getpid()) {
    ::unlink(path_.c_str());
  }
  owner_ = 0;
}

namespace {

// A lock held although its holder's main process is gone is held by that daemon's children
// living on (they inherit the descriptor): stop the recorded ones, then give the rest (not yet
// recorded, or ending on their own after PR_SET_PDEATHSIG) a bounded time to go.
bool lock_after_leftovers(int fd, const std::string& base_dir) {
  stop_leftover_children(base_dir, BaseDirLock::kLeftoverGrace);
  const auto deadline = std::chrono::steady_clock::now() + BaseDirLock::kLeftoverGrace;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

Result<BaseDirLock> BaseDirLock::acquire(const std::string& base_dir) {
  const std::string path = base_dir + "/" + kFileName;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("open the repository lock {}", path), errno);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      return make_errno_error(fmt::format("lock {}", path), errno);
    }
    auto content = io::read_file(path);
    pid_t pid = content ? io::parse_pid(*content).value_or(0) : 0;
    if (pid <= 0 || io::process_alive(pid) || !lock_after_leftovers(fd.get(), base_dir)) {
      return make_error(
          ErrorCode::kUnavailable,
          fmt::format(
              "base_dir {} is in use by another pgmoneta (pid {}{}): two daemons must "
              "not share a repository",
              base_dir, pid > 0 ? std::to_string(pid) : std::string("unknown"),
              pid > 0 && !io::process_alive(pid) ? ", gone, but its children are not" : ""));
    }
  } else {
    // Leftovers that no longer hold the lock must go as well before anything binds a port.
    stop_leftover_children(base_dir, kLeftoverGrace);
  }
  std::string text = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return make_errno_error(fmt::format("write {}", path), errno);
  }
  return BaseDirLock(std::move(fd));
}

}  // namespace pgm::daemon
