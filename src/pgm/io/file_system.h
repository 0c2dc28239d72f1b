// FileSystem: the narrow set of POSIX calls that durable writers use, behind one interface so
// tests can inject faults (a failing fsync, a short write, ENOSPC) into AtomicFile, the WAL
// segment writer and the backup catalog. Implementations are thread-safe.
//
// Every method has the POSIX contract of the call it is named after: it returns what the
// system call returns (-1 on failure) and sets errno. Callers keep their EINTR and
// short-write loops. posix_file_system() is the default everywhere and calls the OS directly.
#pragma once

#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/types.h>

namespace pgm::io {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual int open(const std::string& path, int flags, mode_t mode) = 0;
  virtual int close(int fd) = 0;
  virtual ssize_t read(int fd, void* buf, size_t size) = 0;
  virtual ssize_t pread(int fd, void* buf, size_t size, off_t offset) = 0;
  virtual ssize_t write(int fd, const void* buf, size_t size) = 0;
  virtual ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) = 0;
  virtual int fsync(int fd) = 0;
  virtual int fstat(int fd, struct stat* st) = 0;
  virtual int stat(const std::string& path, struct stat* st) = 0;
  virtual int fchmod(int fd, mode_t mode) = 0;
  virtual int fallocate(int fd, int mode, off_t offset, off_t length) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int mkdir(const std::string& path, mode_t mode) = 0;
  // The entry names of `dir` without "." and "..", in no particular order; -1 and errno when
  // the directory cannot be opened or read.
  virtual int list(const std::string& dir, std::vector<std::string>& names) = 0;
};

// The real file system: each method is the system call of its name. A process-wide object
// without state.
FileSystem& posix_file_system();

}  // namespace pgm::io
