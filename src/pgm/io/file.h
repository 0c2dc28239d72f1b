// Durable file helpers: whole-file reads, AtomicFile (temp, fsync, rename, fsync dir).
// Functions are thread-safe; an AtomicFile object is used by one thread at a time. Those
// taking a FileSystem do all their I/O through it (tests pass a faulty one); it must outlive
// the call, or the AtomicFile.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/io/file_system.h"

namespace pgm::io {

// Reads a whole file. Fails with kNotFound when absent.
Result<std::string> read_file(const std::string& path, FileSystem& fs = posix_file_system());

// Reads a text file in pieces and calls `line` with each line (without its '\n'; a last line
// without one counts too) and its 1-based number, in order; memory is one piece and the
// longest line, whatever the file's size. Stops at the first error `line` returns, which is
// returned as is. Fails with kNotFound when absent, kIo naming the path on a read error.
Result<void> for_each_line(const std::string& path,
                           const std::function<Result<void>(std::string_view, size_t)>& line,
                           FileSystem& fs = posix_file_system());

// The most a configuration, vault or key file may hold.
inline constexpr uint64_t kMaxConfigFileBytes = uint64_t{1} << 20;

// Reads a whole configuration-like file that must be a regular file of at most `max_bytes`:
// a device, FIFO, socket or directory (`-c /dev/zero`) or a larger file is refused with
// kInvalidArgument naming the path and what it is, without reading it. kNotFound when absent.
Result<std::string> read_config_file(const std::string& path,
                                     uint64_t max_bytes = kMaxConfigFileBytes,
                                     FileSystem& fs = posix_file_system());

// fsyncs a directory so that renames and creations inside it are durable.
Result<void> fsync_directory(const std::string& dir, FileSystem& fs = posix_file_system());

// The entry names of `dir` without "." and "..", sorted. A missing directory -> kNotFound.
Result<std::vector<std::string>> list_directory(const std::string& dir,
                                                FileSystem& fs = posix_file_system());

// syncfs(2) on the file system holding `dir`: one pass over its dirty data instead of an
// fsync per file (thousands of fsyncs of small files cost seconds). Reports write errors.
Result<void> sync_filesystem(const std::string& dir);

// Returns the directory part of a path ("." when there is none).
std::string parent_directory(const std::string& path);

// Writes `data` to `path` atomically and durably with the given mode.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                               FileSystem& fs = posix_file_system());

// Creates a directory and its parents with `mode` (existing ones are left alone).
Result<void> make_directories(const std::string& path, mode_t mode);

// Free (available to an unprivileged writer) and total bytes of the file system holding
// `path`, or of its nearest existing ancestor (a workspace or restore target may not exist
// yet). nullopt when no ancestor can be examined (or `path` is empty).
struct FilesystemSpace {
  uint64_t free = 0;
  uint64_t total = 0;
};
std::optional<FilesystemSpace> filesystem_space(const std::string& path);

// AtomicFile writes to "<path>.tmp.<pid>" and, on commit(), fsyncs it, renames it over
// `path` and fsyncs the directory. The destructor removes an uncommitted temp file, so a
// crash or error leaves either the old file or the complete new one, never a partial one.
class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path, mode_t mode,
                                   FileSystem& fs = posix_file_system());

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  Result<void> write(std::string_view data);
  Result<void> commit();
  const std::string& path() const { return path_; }

 private:
  AtomicFile(FileSystem& fs, std::string path, std::string temp_path, UniqueFd fd);

  FileSystem* fs_;
  std::string path_;
  std::string temp_path_;
  UniqueFd fd_;
  bool committed_ = false;
};

}  // namespace pgm::io
