// TarWriter: a streaming POSIX ustar writer. Headers and member data go to a byte sink as they
// are produced; memory is bounded (one 512-byte header plus the caller's chunk). One writer is
// used by one thread.
//
// Format: ustar headers (magic "ustar\0", version "00"). A path that fits the 100-byte name
// field is stored there; up to 255 bytes it is split at a '/' into prefix (155) and name
// (100); anything longer, and a symlink target over 100 bytes, is carried by a POSIX pax 'x'
// header ("path=" / "linkpath=" records) placed before the member, so any path works. Sizes
// over 8 GiB - 1 use GNU base-256 numbers. Directories are stored with a trailing '/'. The
// archive ends with two zero blocks; GNU tar, bsdtar and backup::TarReader read the result.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pgm/compress/stream.h"
#include "pgm/core/result.h"

namespace pgm::restore {

class TarWriter {
 public:
  // `sink` receives every byte of the archive, in order; its first error stops the writer
  // (every later call returns it).
  explicit TarWriter(compress::Sink sink);

  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Owner ids written into the headers of the following members (default 0/0).
  void set_owner(uint32_t uid, uint32_t gid);

  // Paths are relative ("base/1/1259"): empty, absolute, "." / ".." components or NUL bytes ->
  // kInvalidArgument. Every add_* and finish() fails with kInvalidArgument while the previous
  // file still misses data.
  Result<void> add_directory(std::string_view path, uint32_t mode, int64_t mtime);
  // Starts a regular file of exactly `size` bytes, delivered by write_data(); padded to 512
  // when the last byte arrives.
  Result<void> add_file(std::string_view path, uint32_t mode, uint64_t size, int64_t mtime);
  // File data; more than the declared size -> kInvalidArgument.
  Result<void> write_data(std::span<const uint8_t> bytes);
  Result<void> add_symlink(std::string_view path, std::string_view target, int64_t mtime = 0);
  // Writes the end-of-archive marker (two zero blocks). Nothing may follow.
  Result<void> finish();

  uint64_t bytes_written() const { return written_; }

 private:
  Result<void> ready(std::string_view path);
  Result<void> header(std::string path, char type, uint32_t mode, uint64_t size, int64_t mtime,
                      std::string_view link);
  Result<void> emit(std::span<const uint8_t> bytes);

  compress::Sink sink_;
  uint32_t uid_ = 0;
  uint32_t gid_ = 0;
  uint64_t remaining_ = 0;  // data bytes the current file still needs
  uint64_t padding_ = 0;    // zero bytes after it
  bool finished_ = false;
  uint64_t written_ = 0;
  Result<void> error_;
};

}  // namespace pgm::restore
