#include "pgm/io/fd.h"

#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "pgm/io/file_system.h"

namespace pgm::io {
namespace {

tl::unexpected<Error> failure(std::string_view what, std::string_view path, int err) {
  if (path.empty()) {
    return make_errno_error(what, err);
  }
  return make_errno_error(fmt::format("{} {}", what, path), err);
}

}  // namespace

Result<size_t> read_some(FileSystem& fs, int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path) {
  for (;;) {
    ssize_t n = fs.read(fd, buf.data(), buf.size());
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) {
      return failure(what, path, errno);
    }
  }
}

Result<size_t> read_full(int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path) {
  size_t done = 0;
  while (done < buf.size()) {
    PGM_ASSIGN_OR_RETURN(size_t n, read_some(fd, buf.subspan(done), what, path));
    if (n == 0) {
      break;
    }
    done += n;
  }
  return done;
}

Result<size_t> pread_full(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view what,
                          std::string_view path) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return failure(what, path, errno);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<void> write_all(FileSystem& fs, int fd, std::span<const uint8_t> data, std::string_view what,
                       std::string_view path) {
  while (!data.empty()) {
    ssize_t n = fs.write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return failure(what, path, errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return {};
}

Result<void> pwrite_all(FileSystem& fs, int fd, std::span<const uint8_t> data, uint64_t offset,
                        std::string_view what, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = fs.pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return failure(what, path, errno);
    }
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<size_t> read_some(int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path) {
  return read_some(posix_file_system(), fd, buf, what, path);
}

Result<void> write_all(int fd, std::span<const uint8_t> data, std::string_view what,
                       std::string_view path) {
  return write_all(posix_file_system(), fd, data, what, path);
}

Result<void> pwrite_all(int fd, std::span<const uint8_t> data, uint64_t offset,
                        std::string_view what, std::string_view path) {
  return pwrite_all(posix_file_system(), fd, data, offset, what, path);
}

}  // namespace pgm::io
