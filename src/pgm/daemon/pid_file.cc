#include "pgm/daemon/pid_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <sys/file.h>

#include "pgm/core/unique_fd.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"

namespace pgm::daemon {

Result<PidFile> PidFile::create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd && errno == EEXIST) {
    // A PID file from a crashed daemon must not block a restart; a live one must.
    auto content = io::read_file(path);
    pid_t pid = content ? static_cast<pid_t>(std::atoi(content->c_str())) : 0;
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) {
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
    long pid = content ? std::atol(content->c_str()) : 0;
    return make_error(
        ErrorCode::kUnavailable,
        fmt::format("base_dir {} is in use by another pgmoneta (pid {}): two daemons must not "
                    "share a repository",
                    base_dir, pid > 0 ? std::to_string(pid) : std::string("unknown")));
  }
  std::string text = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return make_errno_error(fmt::format("write {}", path), errno);
  }
  return BaseDirLock(std::move(fd));
}

}  // namespace pgm::daemon
