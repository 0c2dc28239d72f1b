#include "pgm/restore/tar_writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace pgm::restore {

namespace {

constexpr size_t kBlock = 512;

using Block = std::array<uint8_t, kBlock>;

// Writes `value` into field [offset, offset + width): octal digits and a NUL when they fit,
// else GNU base-256 (0x80 then big-endian bytes).
void put_number(Block& b, size_t offset, size_t width, uint64_t value) {
  uint64_t max_octal = (uint64_t{1} << (3 * (width - 1))) - 1;
  if (value <= max_octal) {
    for (size_t i = width - 1; i-- > 0;) {
      b[offset + i] = static_cast<uint8_t>('0' + (value & 7));
      value >>= 3;
    }
    b[offset + width - 1] = 0;
    return;
  }
  b[offset] = 0x80;
  for (size_t i = width - 1; i > 0; --i) {
    b[offset + i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
}

void put_string(Block& b, size_t offset, size_t width, std::string_view s) {
  std::memcpy(b.data() + offset, s.data(), std::min(width, s.size()));
}

// "<len> key=value\n", len counting the whole record.
std::string pax_record(std::string_view key, std::string_view value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) {
    len = std::to_string(len).size() + body;
  }
  return fmt::format("{} {}={}\n", len, key, value);
}

// Splits a path of up to 255 bytes into ustar prefix and name; false when it cannot be.
bool split_path(std::string_view path, std::string_view& prefix, std::string_view& name) {
  if (path.size() <= 100) {
    prefix = {};
    name = path;
    return true;
  }
  if (path.size() > 255) {
    return false;
  }
  for (size_t i = std::min<size_t>(155, path.size() - 1); i > 0; --i) {
    if (path[i] == '/' && path.size() - i - 1 <= 100 && path.size() - i - 1 > 0) {
      prefix = path.substr(0, i);
      name = path.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

TarWriter::TarWriter(compress::Sink sink) : sink_(std::move(sink)) {}

void TarWriter::set_owner(uint32_t uid, uint32_t gid) {
  uid_ = uid;
  gid_ = gid;
}

Result<void> TarWriter::emit(std::span<const uint8_t> bytes) {
  if (!error_) {
    return error_;
  }
  if (auto r = sink_(bytes); !r) {
    error_ = r;
    return r;
  }
  written_ += bytes.size();
  return {};
}

Result<void> TarWriter::ready(std::string_view path) {
  if (!error_) {
    return error_;
  }
  if (finished_) {
    return make_error(ErrorCode::kInvalidArgument, "tar: the archive is already finished");
  }
  if (remaining_ != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("tar: the previous file still misses {} bytes", remaining_));
  }
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("tar: invalid path '{}'", path));
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    std::string_view part = path.substr(start, end - start);
    if (part == "." || part == ".." || (part.empty() && end != path.size())) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("tar: invalid path '{}'", path));
    }
    start = end + 1;
  }
  return {};
}

Result<void> TarWriter::header(std::string path, char type, uint32_t mode, uint64_t size,
                               int64_t mtime, std::string_view link) {
  if (type == '5' && path.back() != '/') {
    path += '/';
  }
  std::string_view prefix;
  std::string_view name;
  std::string pax;
  if (!split_path(path, prefix, name)) {
    pax += pax_record("path", path);
    prefix = {};
    name = std::string_view(path).substr(0, 100);
  }
  if (link.size() > 100) {
    pax += pax_record("linkpath", link);
    link = link.substr(0, 100);
  }
  if (!pax.empty()) {
    PGM_TRY(header("././@PaxHeader", 'x', 0644, pax.size(), mtime, {}));
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(pax.data()), pax.size());
    PGM_TRY(emit(bytes));
    Block zeros{};
    PGM_TRY(emit(std::span<const uint8_t>(zeros.data(), (kBlock - pax.size() % kBlock) % kBlock)));
  }
  Block b{};
  put_string(b, 0, 100, name);
  put_number(b, 100, 8, mode & 07777);
  put_number(b, 108, 8, uid_);
  put_number(b, 116, 8, gid_);
  put_number(b, 124, 12, size);
  put_number(b, 136, 12, static_cast<uint64_t>(std::max<int64_t>(0, mtime)));
  b[156] = static_cast<uint8_t>(type);
  put_string(b, 157, 100, link);
  put_string(b, 257, 6, std::string_view("ustar\0", 6));
  put_string(b, 263, 2, "00");
  put_string(b, 345, 155, prefix);
  std::memset(b.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (uint8_t c : b) {
    sum += c;
  }
  put_number(b, 148, 7, sum);  // six digits, NUL, then the space already there
  return emit(b);
}

Result<void> TarWriter::add_directory(std::string_view path, uint32_t mode, int64_t mtime) {
  PGM_TRY(ready(path));
  return header(std::string(path), '5', mode, 0, mtime, {});
}

Result<void> TarWriter::add_file(std::string_view path, uint32_t mode, uint64_t size,
                                 int64_t mtime) {
  PGM_TRY(ready(path));
  PGM_TRY(header(std::string(path), '0', mode, size, mtime, {}));
  remaining_ = size;
  padding_ = (kBlock - size % kBlock) % kBlock;
  return {};
}

Result<void> TarWriter::write_data(std::span<const uint8_t> bytes) {
  if (!error_) {
    return error_;
  }
  if (bytes.size() > remaining_) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("tar: {} bytes of data given, the file takes {} more",
                                  bytes.size(), remaining_));
  }
  if (bytes.empty()) {
    return {};
  }
  PGM_TRY(emit(bytes));
  remaining_ -= bytes.size();
  if (remaining_ == 0 && padding_ != 0) {
    Block zeros{};
    PGM_TRY(emit(std::span<const uint8_t>(zeros.data(), padding_)));
    padding_ = 0;
  }
  return {};
}

Result<void> TarWriter::add_symlink(std::string_view path, std::string_view target, int64_t mtime) {
  PGM_TRY(ready(path));
  if (target.empty() || target.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("tar: invalid symlink target for '{}'", path));
  }
  return header(std::string(path), '2', 0777, 0, mtime, target);
}

Result<void> TarWriter::finish() {
  PGM_TRY(ready("end"));
  std::array<uint8_t, 2 * kBlock> zeros{};
  PGM_TRY(emit(zeros));
  finished_ = true;
  return {};
}

}  // namespace pgm::restore
