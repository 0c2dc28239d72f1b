// FaultFileSystem: an io::FileSystem over the real one (use it inside a TempDir) that records
// every call and injects failures: the Nth call of an operation fails with a chosen errno,
// writes come back short, or the disk fills up after a byte budget (a short write, then
// ENOSPC). Thread-safe (one mutex), so a writer under test may run on any thread.
#pragma once

#include <cerrno>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgm/io/file_system.h"

namespace pgm::test_support {

class FaultFileSystem final : public io::FileSystem {
 public:
  enum class Op {
    kOpen,
    kClose,
    kRead,
    kWrite,
    kFsync,
    kFstat,
    kStat,
    kFchmod,
    kFallocate,
    kRename,
    kUnlink,
    kMkdir,
    kList
  };

  // The `nth` call (1 = the next one) of `op` from now on, counting only calls whose path
  // contains `path_part`, fails with `err` without reaching the disk. write/pwrite count as
  // kWrite. Several rules may be armed; each fires once.
  void fail(Op op, int nth, int err, std::string path_part = {});
  // Every write/pwrite transfers at most `max_bytes` (0 = no limit): callers must loop.
  void short_writes(size_t max_bytes);
  // The disk holds only `bytes` more written bytes: the write that crosses the budget is
  // short, the next ones fail with ENOSPC.
  void disk_full_after(size_t bytes);

  // One line per call, "<op> <path>" (rename: "rename <from> <to>"; fd calls name the path
  // the fd was opened with; a failed call ends with " -> <errno name>").
  std::vector<std::string> calls() const;
  // calls() filtered to those starting with `op_name` ("fsync", "rename", ...).
  std::vector<std::string> calls(const std::string& op_name) const;

  int open(const std::string& path, int flags, mode_t mode) override;
  int close(int fd) override;
  ssize_t read(int fd, void* buf, size_t size) override;
  ssize_t pread(int fd, void* buf, size_t size, off_t offset) override;
  ssize_t write(int fd, const void* buf, size_t size) override;
  ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) override;
  int fsync(int fd) override;
  int fstat(int fd, struct stat* st) override;
  int stat(const std::string& path, struct stat* st) override;
  int fchmod(int fd, mode_t mode) override;
  int fallocate(int fd, int mode, off_t offset, off_t length) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int mkdir(const std::string& path, mode_t mode) override;
  int list(const std::string& dir, std::vector<std::string>& names) override;

 private:
  struct Rule {
    Op op;
    int countdown;
    int err;
    std::string path_part;
  };
  // Records the call; returns the errno to fail it with, if a rule fires.
  std::optional<int> enter(Op op, const std::string& what, const std::string& path);
  // enter() (unless `op` is nullopt: already entered), then `call` unless a rule fired; a
  // failure, injected or real, is noted in calls() and keeps its errno.
  template <typename Call>
  auto run(std::optional<Op> op, const std::string& what, const std::string& path, Call call)
      -> decltype(call()) {
    if (op) {
      if (auto err = enter(*op, what, path)) {
        errno = *err;
        return -1;
      }
    }
    auto rc = call();
    if (rc < 0) {
      int err = errno;
      failed(err);
      errno = err;
    }
    return rc;
  }
  void failed(int err);
  std::string fd_path(int fd) const;
  // How many of `size` bytes a write may transfer now; nullopt: fail with ENOSPC.
  std::optional<size_t> write_allowance(size_t size);
  void wrote(ssize_t n);

  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  std::vector<std::string> calls_;
  std::map<int, std::string> paths_;
  size_t short_write_max_ = 0;
  std::optional<size_t> space_left_;
};

}  // namespace pgm::test_support
