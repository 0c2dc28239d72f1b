#include "pgm/io/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <memory>

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "pgm/io/fd.h"

namespace pgm::io {

namespace {

// Appends `fd` up to its end to `out`: false (and stops) once `out` holds more than
// `max_bytes`.
Result<bool> read_to_end(FileSystem& fs, int fd, const std::string& path, uint64_t max_bytes,
                         std::string& out) {
  char buf[65536];
  for (;;) {
    PGM_ASSIGN_OR_RETURN(
        size_t n, read_some(fs, fd, {reinterpret_cast<uint8_t*>(buf), sizeof(buf)}, "read", path));
    if (n == 0) {
      return true;
    }
    out.append(buf, n);
    if (out.size() > max_bytes) {
      return false;
    }
  }
}

}  // namespace

Result<std::string> read_file(const std::string& path, FileSystem& fs) {
  UniqueFd fd(fs.open(path, O_RDONLY | O_CLOEXEC, 0));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  std::string out;
  PGM_TRY(read_to_end(fs, fd.get(), path, std::numeric_limits<uint64_t>::max(), out));
  return out;
}

Result<void> for_each_line(const std::string& path,
                           const std::function<Result<void>(std::string_view, size_t)>& line,
                           FileSystem& fs) {
  UniqueFd fd(fs.open(path, O_RDONLY | O_CLOEXEC, 0));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  constexpr size_t kPiece = size_t{64} << 10;
  std::string buffer;  // the unfinished line, then the piece read after it
  size_t number = 0;
  while (true) {
    const size_t kept = buffer.size();
    buffer.resize(kept + kPiece);
    ssize_t n = fs.read(fd.get(), buffer.data() + kept, kPiece);
    if (n < 0) {
      if (errno == EINTR) {
        buffer.resize(kept);
        continue;
      }
      return make_errno_error(fmt::format("read {}", path), errno);
    }
    buffer.resize(kept + static_cast<size_t>(n));
    if (n == 0) {
      break;
    }
    std::string_view rest(buffer);
    for (size_t end = rest.find('\n'); end != std::string_view::npos; end = rest.find('\n')) {
      PGM_TRY(line(rest.substr(0, end), ++number));
      rest.remove_prefix(end + 1);
    }
    buffer.erase(0, buffer.size() - rest.size());
  }
  if (!buffer.empty()) {
    PGM_TRY(line(buffer, ++number));
  }
  return {};
}

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

}  // namespace

Result<std::string> read_config_file(const std::string& path, uint64_t max_bytes, FileSystem& fs) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
  UniqueFd fd(fs.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  struct stat st {};
  if (fs.fstat(fd.get(), &st) != 0) {
    return make_errno_error(fmt::format("stat {}", path), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} is {}; a configuration file must be a regular file", path,
                                  file_kind(st.st_mode)));
  }
  auto too_large = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} is larger than the {} bytes a configuration file may have",
                                  path, max_bytes));
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return too_large();
  }
  std::string out;
  PGM_ASSIGN_OR_RETURN(bool whole, read_to_end(fs, fd.get(), path, max_bytes, out));
  if (!whole) {
    return too_large();  // it grew while we read
  }
  return out;
}

Result<std::vector<std::string>> list_directory(const std::string& dir, FileSystem& fs) {
  std::vector<std::string> names;
  if (fs.list(dir, names) != 0) {
    // The call that failed is unknown here; opendir's message is kept for the common case.
    return make_errno_error(fmt::format("open directory {}", dir), errno);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<void> fsync_directory(const std::string& dir, FileSystem& fs) {
  UniqueFd fd(fs.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  if (!fd) {
    return make_errno_error(fmt::format("open directory {}", dir), errno);
  }
  if (fs.fsync(fd.get()) != 0) {
    return make_errno_error(fmt::format("fsync directory {}", dir), errno);
  }
  return {};
}

Result<void> sync_filesystem(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", dir), errno);
  }
  if (::syncfs(fd.get()) != 0) {
    return make_errno_error(fmt::format("syncfs {}", dir), errno);
  }
  return {};
}

std::string parent_directory(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) {
    return ".";
  }
  if (pos == 0) {
    return "/";
  }
  return path.substr(0, pos);
}

Result<void> make_directories(const std::string& path, mode_t mode) {
  if (path.empty()) {
    return {};
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return make_error(ErrorCode::kIo, fmt::format("{} exists and is not a directory", path));
    }
    return {};
  }
  std::string parent = parent_directory(path);
  if (parent != path && parent != "." && parent != "/") {
    PGM_TRY(make_directories(parent, mode));
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return make_errno_error(fmt::format("mkdir {}", path), errno);
  }
  return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                               FileSystem& fs) {
  PGM_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::create(path, mode, fs));
  PGM_TRY(file.write(data));
  return file.commit();
}

AtomicFile::AtomicFile(FileSystem& fs, std::string path, std::string temp_path, UniqueFd fd)
    : fs_(&fs), path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(std::move(fd)) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : fs_(other.fs_),
      path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::move(other.fd_)),
      committed_(other.committed_) {
  other.committed_ = true;  // the moved-from object owns nothing to discard
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !temp_path_.empty()) {
    if (fd_) {
      fs_->close(fd_.release());
    }
    fs_->unlink(temp_path_);
  }
}

Result<AtomicFile> AtomicFile::create(const std::string& path, mode_t mode, FileSystem& fs) {
  std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  UniqueFd fd(fs.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", temp), errno);
  }
  // open() applies the umask; the caller's mode is the contract.
  if (fs.fchmod(fd.get(), mode) != 0) {
    int err = errno;
    fs.close(fd.release());
    fs.unlink(temp);
    return make_errno_error(fmt::format("chmod {}", temp), err);
  }
  return AtomicFile(fs, path, std::move(temp), std::move(fd));
}

Result<void> AtomicFile::write(std::string_view data) {
  return write_all(*fs_, fd_.get(), {reinterpret_cast<const uint8_t*>(data.data()), data.size()},
                   "write", temp_path_);
}

Result<void> AtomicFile::commit() {
  if (fs_->fsync(fd_.get()) != 0) {
    return make_errno_error(fmt::format("fsync {}", temp_path_), errno);
  }
  if (fs_->close(fd_.release()) != 0) {
    return make_errno_error(fmt::format("close {}", temp_path_), errno);
  }
  if (fs_->rename(temp_path_, path_) != 0) {
    return make_errno_error(fmt::format("rename {} to {}", temp_path_, path_), errno);
  }
  committed_ = true;
  return fsync_directory(parent_directory(path_), *fs_);
}

std::optional<FilesystemSpace> filesystem_space(const std::string& path) {
  if (path.empty()) {
    return std::nullopt;
  }
  struct statvfs st {};
  std::filesystem::path p(path);
  while (::statvfs(p.c_str(), &st) != 0) {
    if (!p.has_parent_path() || p.parent_path() == p) {
      return std::nullopt;
    }
    p = p.parent_path();
  }
  return FilesystemSpace{static_cast<uint64_t>(st.f_bavail) * st.f_frsize,
                         static_cast<uint64_t>(st.f_blocks) * st.f_frsize};
}

}  // namespace pgm::io
