#include "support/fault_file_system.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pgm::test_support {
namespace {

io::FileSystem& real() { return io::posix_file_system(); }

}  // namespace

void FaultFileSystem::fail(Op op, int nth, int err, std::string path_part) {
  std::lock_guard lock(mu_);
  rules_.push_back(Rule{op, nth, err, std::move(path_part)});
}

void FaultFileSystem::short_writes(size_t max_bytes) {
  std::lock_guard lock(mu_);
  short_write_max_ = max_bytes;
}

void FaultFileSystem::disk_full_after(size_t bytes) {
  std::lock_guard lock(mu_);
  space_left_ = bytes;
}

std::vector<std::string> FaultFileSystem::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<std::string> FaultFileSystem::calls(const std::string& op_name) const {
  std::vector<std::string> out;
  for (const std::string& c : calls()) {
    if (c.compare(0, op_name.size() + 1, op_name + " ") == 0) {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<int> FaultFileSystem::enter(Op op, const std::string& what, const std::string& path) {
  std::lock_guard lock(mu_);
  calls_.push_back(what);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (it->op != op || path.find(it->path_part) == std::string::npos) {
      continue;
    }
    if (--it->countdown == 0) {
      int err = it->err;
      rules_.erase(it);
      calls_.back() += std::string(" -> ") + strerrorname_np(err);
      return err;
    }
  }
  return std::nullopt;
}

void FaultFileSystem::failed(int err) {
  std::lock_guard lock(mu_);
  calls_.back() += std::string(" -> ") + strerrorname_np(err);
}

std::string FaultFileSystem::fd_path(int fd) const {
  std::lock_guard lock(mu_);
  auto it = paths_.find(fd);
  return it == paths_.end() ? "fd" + std::to_string(fd) : it->second;
}

std::optional<size_t> FaultFileSystem::write_allowance(size_t size) {
  std::lock_guard lock(mu_);
  if (short_write_max_ != 0 && size > short_write_max_) {
    size = short_write_max_;
  }
  if (space_left_) {
    if (*space_left_ == 0 && size > 0) {
      return std::nullopt;
    }
    size = std::min(size, *space_left_);
  }
  return size;
}

void FaultFileSystem::wrote(ssize_t n) {
  std::lock_guard lock(mu_);
  if (n > 0 && space_left_) {
    *space_left_ -= static_cast<size_t>(n);
  }
}

int FaultFileSystem::open(const std::string& path, int flags, mode_t mode) {
  int fd = run(Op::kOpen, "open " + path, path, [&] { return real().open(path, flags, mode); });
  if (fd >= 0) {
    std::lock_guard lock(mu_);
    paths_[fd] = path;
  }
  return fd;
}

int FaultFileSystem::close(int fd) {
  std::string path = fd_path(fd);
  {
    std::lock_guard lock(mu_);
    paths_.erase(fd);
  }
  if (auto err = enter(Op::kClose, "close " + path, path)) {
    real().close(fd);  // the descriptor is gone either way, as with close(2)
    errno = *err;
    return -1;
  }
  return run(std::nullopt, "", "", [&] { return real().close(fd); });
}

ssize_t FaultFileSystem::read(int fd, void* buf, size_t size) {
  std::string path = fd_path(fd);
  return run(Op::kRead, "read " + path, path, [&] { return real().read(fd, buf, size); });
}

ssize_t FaultFileSystem::pread(int fd, void* buf, size_t size, off_t offset) {
  std::string path = fd_path(fd);
  return run(Op::kRead, "read " + path, path, [&] { return real().pread(fd, buf, size, offset); });
}

// A negative offset stands for the file position (write instead of pwrite).
ssize_t FaultFileSystem::write(int fd, const void* buf, size_t size) {
  return pwrite(fd, buf, size, -1);
}

ssize_t FaultFileSystem::pwrite(int fd, const void* buf, size_t size, off_t offset) {
  std::string path = fd_path(fd);
  return run(Op::kWrite, "write " + path, path, [&]() -> ssize_t {
    std::optional<size_t> n = write_allowance(size);
    if (!n) {
      errno = ENOSPC;
      return -1;
    }
    ssize_t rc = offset < 0 ? real().write(fd, buf, *n) : real().pwrite(fd, buf, *n, offset);
    wrote(rc);
    return rc;
  });
}

int FaultFileSystem::fsync(int fd) {
  std::string path = fd_path(fd);
  return run(Op::kFsync, "fsync " + path, path, [&] { return real().fsync(fd); });
}

int FaultFileSystem::fstat(int fd, struct stat* st) {
  std::string path = fd_path(fd);
  return run(Op::kFstat, "fstat " + path, path, [&] { return real().fstat(fd, st); });
}

int FaultFileSystem::stat(const std::string& path, struct stat* st) {
  return run(Op::kStat, "stat " + path, path, [&] { return real().stat(path, st); });
}

int FaultFileSystem::fchmod(int fd, mode_t mode) {
  std::string path = fd_path(fd);
  return run(Op::kFchmod, "fchmod " + path, path, [&] { return real().fchmod(fd, mode); });
}

int FaultFileSystem::fallocate(int fd, int mode, off_t offset, off_t length) {
  std::string path = fd_path(fd);
  return run(Op::kFallocate, "fallocate " + path, path,
             [&] { return real().fallocate(fd, mode, offset, length); });
}

int FaultFileSystem::rename(const std::string& from, const std::string& to) {
  std::string both = from + " " + to;
  return run(Op::kRename, "rename " + both, both, [&] { return real().rename(from, to); });
}

int FaultFileSystem::unlink(const std::string& path) {
  return run(Op::kUnlink, "unlink " + path, path, [&] { return real().unlink(path); });
}

int FaultFileSystem::mkdir(const std::string& path, mode_t mode) {
  return run(Op::kMkdir, "mkdir " + path, path, [&] { return real().mkdir(path, mode); });
}

int FaultFileSystem::list(const std::string& dir, std::vector<std::string>& names) {
  return run(Op::kList, "list " + dir, dir, [&] { return real().list(dir, names); });
}

}  // namespace pgm::test_support
