// Chunked reads and writes on a file descriptor that retry on EINTR and short transfers, so
// callers write no loop of their own. Thread-safe as far as the descriptor is (the p* forms do
// not move the offset).
//
// A failure is errno_error: "<what> <path>: <strerror>" ("<what>: <strerror>" without a path),
// e.g. what = "read", path = "/var/lib/x". The message is only built on failure, so hot loops
// pay nothing for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "pgm/core/result.h"

namespace pgm::io {

// One read(2) of up to buf.size() bytes at the file position. Returns the count, 0 at end of
// file (or for an empty buf). Blocks as the descriptor does.
Result<size_t> read_some(int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path = {});
inline Result<size_t> read_some(int fd, std::span<char> buf, std::string_view what,
                                std::string_view path = {}) {
  return read_some(fd, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, what, path);
}

// Reads at the file position until buf is full or end of file: returns the count, below
// buf.size() only at end of file.
Result<size_t> read_full(int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path = {});

// pread(2) from `offset` until buf is full or end of file. Returns the count, below buf.size()
// only at end of file.
Result<size_t> pread_full(int fd, std::span<uint8_t> buf, uint64_t offset, std::string_view what,
                          std::string_view path = {});
inline Result<size_t> pread_full(int fd, std::span<char> buf, uint64_t offset,
                                 std::string_view what, std::string_view path = {}) {
  return pread_full(fd, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, offset, what, path);
}

// Writes all of `data` at the file position (pwrite_all: at `offset`), retrying short writes.
// How much was written before a failure is unspecified.
Result<void> write_all(int fd, std::span<const uint8_t> data, std::string_view what,
                       std::string_view path = {});
inline Result<void> write_all(int fd, std::string_view data, std::string_view what,
                              std::string_view path = {}) {
  return write_all(fd, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}, what, path);
}
Result<void> pwrite_all(int fd, std::span<const uint8_t> data, uint64_t offset,
                        std::string_view what, std::string_view path = {});

// The same through a FileSystem (file_system.h), for writers whose I/O tests inject faults
// into; the forms above use the real one.
class FileSystem;
Result<size_t> read_some(FileSystem& fs, int fd, std::span<uint8_t> buf, std::string_view what,
                         std::string_view path = {});
Result<void> write_all(FileSystem& fs, int fd, std::span<const uint8_t> data, std::string_view what,
                       std::string_view path = {});
Result<void> pwrite_all(FileSystem& fs, int fd, std::span<const uint8_t> data, uint64_t offset,
                        std::string_view what, std::string_view path = {});

}  // namespace pgm::io
