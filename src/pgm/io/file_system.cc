#include "pgm/io/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace pgm::io {
namespace {

class PosixFileSystem final : public FileSystem {
 public:
  int open(const std::string& path, int flags, mode_t mode) override {
    return ::open(path.c_str(), flags, mode);
  }
  int close(int fd) override { return ::close(fd); }
  ssize_t read(int fd, void* buf, size_t size) override { return ::read(fd, buf, size); }
  ssize_t pread(int fd, void* buf, size_t size, off_t offset) override {
    return ::pread(fd, buf, size, offset);
  }
  ssize_t write(int fd, const void* buf, size_t size) override { return ::write(fd, buf, size); }
  ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) override {
    return ::pwrite(fd, buf, size, offset);
  }
  int fsync(int fd) override { return ::fsync(fd); }
  int fstat(int fd, struct stat* st) override { return ::fstat(fd, st); }
  int stat(const std::string& path, struct stat* st) override { return ::stat(path.c_str(), st); }
  int fchmod(int fd, mode_t mode) override { return ::fchmod(fd, mode); }
  int fallocate(int fd, int mode, off_t offset, off_t length) override {
    return ::fallocate(fd, mode, offset, length);
  }
  int rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str());
  }
  int unlink(const std::string& path) override { return ::unlink(path.c_str()); }
  int mkdir(const std::string& path, mode_t mode) override { return ::mkdir(path.c_str(), mode); }
  int list(const std::string& dir, std::vector<std::string>& names) override {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
      return -1;
    }
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(d.get());  // NOLINT(concurrency-mt-unsafe): own DIR*
      if (entry == nullptr) {
        return errno != 0 ? -1 : 0;
      }
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
    }
  }
};

}  // namespace

FileSystem& posix_file_system() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace pgm::io
