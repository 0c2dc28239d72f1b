#include "pgm/backup/tar.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace pgm::backup {
namespace {

constexpr size_t kBlock = 512;
// An 'L', 'K' or 'x' body is buffered whole; anything larger than this is not a sane header.
constexpr uint64_t kMaxExtendedSize = uint64_t{1} << 20;

// Header field positions (offset, length).
struct Field {
  size_t offset;
  size_t length;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChecksum{148, 8};
constexpr size_t kTypeflag = 156;
constexpr Field kLinkname{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kPrefix{345, 155};

using Block = std::array<uint8_t, kBlock>;

std::string_view field_bytes(const Block& b, Field f) {
  return {reinterpret_cast<const char*>(b.data()) + f.offset, f.length};
}

// A NUL-terminated (or full-width) string field.
std::string field_string(const Block& b, Field f) {
  std::string_view v = field_bytes(b, f);
  return std::string(v.substr(0, v.find('\0')));
}

uint64_t padding_for(uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

Error corruption(std::string message) { return {ErrorCode::kCorruption, std::move(message)}; }

// Octal (leading spaces, then digits, then spaces/NULs) or GNU base-256 (first byte 0x80 for
// positive, 0xff for negative, big-endian two's complement).
Result<int64_t> parse_number(const Block& b, Field f, const char* what, uint64_t header_offset) {
  std::string_view v = field_bytes(b, f);
  auto bad = [&] {
    return make_error(
        ErrorCode::kCorruption,
        fmt::format("tar header at offset {}: invalid {} field", header_offset, what));
  };
  const auto first = static_cast<uint8_t>(v[0]);
  if ((first & 0x80) != 0) {
    if (first != 0x80 && first != 0xff) {
      return bad();
    }
    const bool negative = first == 0xff;
    const uint8_t fill = negative ? 0xff : 0x00;
    std::string_view rest = v.substr(1);
    // Only the last 8 bytes may carry value bits.
    while (rest.size() > 8) {
      if (static_cast<uint8_t>(rest[0]) != fill) {
        return bad();
      }
      rest.remove_prefix(1);
    }
    uint64_t acc = negative ? ~uint64_t{0} : 0;
    for (char c : rest) {
      acc = (acc << 8) | static_cast<uint8_t>(c);
    }
    const auto value = static_cast<int64_t>(acc);
    if (rest.size() == 8 && (value < 0) != negative) {
      return bad();  // does not fit in 64 signed bits
    }
    return value;
  }
  size_t i = 0;
  while (i < v.size() && v[i] == ' ') {
    ++i;
  }
  uint64_t value = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '7') {
    value = (value << 3) | static_cast<uint64_t>(v[i] - '0');  // at most 36 bits
    ++i;
  }
  for (; i < v.size(); ++i) {
    if (v[i] != ' ' && v[i] != '\0') {
      return bad();
    }
  }
  return static_cast<int64_t>(value);
}

bool all_zero(const Block& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

// Verifies the header checksum: the sum of all bytes with the checksum field read as spaces,
// as unsigned bytes (POSIX) or signed bytes (some historical writers).
Result<void> verify_checksum(const Block& b, uint64_t header_offset) {
  PGM_ASSIGN_OR_RETURN(const int64_t stored, parse_number(b, kChecksum, "checksum", header_offset));
  int64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.length;
    const uint8_t c = in_field ? uint8_t{' '} : b[i];
    unsigned_sum += c;
    signed_sum += static_cast<int8_t>(c);
  }
  if (stored != unsigned_sum && stored != signed_sum) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("tar header at offset {}: checksum mismatch (stored {:o}, "
                                  "computed {:o})",
                                  header_offset, stored, unsigned_sum));
  }
  return {};
}

// Rejects what a caller must never join to its target directory.
Result<void> check_path(const std::string& path, const char* what, uint64_t header_offset) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kCorruption, fmt::format("tar header at offset {}: {} \"{}\" {}",
                                                          header_offset, what, path, why));
  };
  if (path.empty()) {
    return bad("is empty");
  }
  if (path.find('\0') != std::string::npos) {
    return bad("contains a NUL byte");
  }
  if (path.front() == '/') {
    return bad("is absolute");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    if (std::string_view(path).substr(start, slash - start) == "..") {
      return bad("contains a \"..\" component");
    }
    start = slash + 1;
  }
  return {};
}

void strip_trailing_slashes(std::string& path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
}

Result<uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) {
    return make_error(ErrorCode::kCorruption, "bad number");
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return make_error(ErrorCode::kCorruption, "bad number");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

TarReader::TarReader(TarSink& sink, bool accept_missing_trailer)
    : sink_(sink), accept_missing_trailer_(accept_missing_trailer) {}

Result<void> TarReader::fail(Error error) {
  state_ = State::kFailed;
  error_ = error;
  return tl::unexpected<Error>(std::move(error));
}

Result<void> TarReader::feed(std::span<const uint8_t> bytes) {
  if (error_) {
    return tl::unexpected<Error>(*error_);
  }
  while (!bytes.empty()) {
    switch (state_) {
      case State::kHeader: {
        const size_t n = std::min(kBlock - block_fill_, bytes.size());
        std::memcpy(block_.data() + block_fill_, bytes.data(), n);
        if (block_fill_ == 0) {
          header_offset_ = offset_;
        }
        block_fill_ += n;
        offset_ += n;
        bytes = bytes.subspan(n);
        if (block_fill_ == kBlock) {
          block_fill_ = 0;
          if (auto r = on_block(); !r) {
            return fail(r.error());
          }
        }
        break;
      }
      case State::kData: {
        const auto n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        const std::span<const uint8_t> chunk = bytes.first(n);
        if (mode_ == DataMode::kDeliver) {
          if (auto r = sink_.data(chunk); !r) {
            return fail(r.error());
          }
        } else if (mode_ != DataMode::kSkip && mode_ != DataMode::kGlobal) {
          extended_.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        }
        remaining_ -= n;
        offset_ += n;
        bytes = bytes.subspan(n);
        if (remaining_ == 0) {
          if (auto r = on_data_done(); !r) {
            return fail(r.error());
          }
        }
        break;
      }
      case State::kPadding: {
        const auto n = static_cast<size_t>(std::min<uint64_t>(padding_, bytes.size()));
        padding_ -= n;
        offset_ += n;
        bytes = bytes.subspan(n);
        if (padding_ == 0) {
          state_ = State::kHeader;
        }
        break;
      }
      case State::kEnd: {
        const auto nonzero =
            std::find_if(bytes.begin(), bytes.end(), [](uint8_t c) { return c != 0; });
        if (nonzero != bytes.end()) {
          return fail(
              corruption(fmt::format("tar archive has data after its end marker at offset {}",
                                     offset_ + static_cast<uint64_t>(nonzero - bytes.begin()))));
        }
        offset_ += bytes.size();
        bytes = {};
        break;
      }
      case State::kFailed:
        return tl::unexpected<Error>(*error_);
    }
  }
  return {};
}

Result<void> TarReader::on_block() {
  const bool pending_extended = long_name_ || long_link_ || pax_path_ || pax_link_ || pax_size_;
  if (all_zero(block_)) {
    if (pending_extended) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("tar archive: extended header not followed by a member at "
                                    "offset {}",
                                    header_offset_));
    }
    if (++zero_blocks_ == 2) {
      state_ = State::kEnd;
    }
    return {};
  }
  if (zero_blocks_ != 0) {
    return make_error(
        ErrorCode::kCorruption,
        fmt::format("tar archive: header at offset {} follows a zero block", header_offset_));
  }
  PGM_TRY(verify_checksum(block_, header_offset_));
  PGM_ASSIGN_OR_RETURN(const int64_t size, parse_number(block_, kSize, "size", header_offset_));
  if (size < 0) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("tar header at offset {}: negative size", header_offset_));
  }
  const char typeflag = static_cast<char>(block_[kTypeflag]);
  const auto usize = static_cast<uint64_t>(size);
  switch (typeflag) {
    case 'L':
    case 'K':
    case 'x':
      if (usize > kMaxExtendedSize) {
        return make_error(ErrorCode::kCorruption,
                          fmt::format("tar header at offset {}: extended header of {} bytes is "
                                      "too large",
                                      header_offset_, usize));
      }
      member_ = fmt::format("extended header at offset {}", header_offset_);
      extended_.clear();
      return start_data(typeflag == 'L'   ? DataMode::kLongName
                        : typeflag == 'K' ? DataMode::kLongLink
                                          : DataMode::kPax,
                        usize);
    case 'g':
      member_ = fmt::format("global header at offset {}", header_offset_);
      return start_data(DataMode::kGlobal, usize);
    default:
      return on_member(typeflag, usize);
  }
}

Result<void> TarReader::on_member(char typeflag, uint64_t header_size) {
  TarEntry entry;
  if (pax_path_) {
    entry.path = *pax_path_;
  } else if (long_name_) {
    entry.path = *long_name_;
  } else {
    entry.path = field_string(block_, kName);
    // POSIX ustar splits long names into prefix "/" name; GNU's magic ("ustar  ") uses that
    // space for other fields.
    if (field_bytes(block_, kMagic) == std::string_view("ustar\0", 6)) {
      const std::string prefix = field_string(block_, kPrefix);
      if (!prefix.empty()) {
        entry.path = prefix + "/" + entry.path;
      }
    }
  }
  if (pax_link_) {
    entry.link_target = *pax_link_;
  } else if (long_link_) {
    entry.link_target = *long_link_;
  } else {
    entry.link_target = field_string(block_, kLinkname);
  }
  uint64_t size = pax_size_ ? *pax_size_ : header_size;
  long_name_.reset();
  long_link_.reset();
  pax_path_.reset();
  pax_link_.reset();
  pax_size_.reset();

  PGM_ASSIGN_OR_RETURN(const int64_t mode, parse_number(block_, kMode, "mode", header_offset_));
  PGM_ASSIGN_OR_RETURN(entry.mtime, parse_number(block_, kMtime, "mtime", header_offset_));
  entry.mode = static_cast<uint32_t>(mode);

  switch (typeflag) {
    case '0':
    case '\0':
      entry.type = TarType::kFile;
      break;
    case '1':
      entry.type = TarType::kHardlink;
      break;
    case '2':
      entry.type = TarType::kSymlink;
      break;
    case '5':
      entry.type = TarType::kDirectory;
      break;
    default:
      entry.type = TarType::kOther;
      break;
  }
  // Links, devices, directories and FIFOs carry no data whatever their size field says.
  if (typeflag == '1' || typeflag == '2' || typeflag == '3' || typeflag == '4' || typeflag == '5' ||
      typeflag == '6') {
    size = 0;
  }
  if (entry.type != TarType::kSymlink && entry.type != TarType::kHardlink) {
    entry.link_target.clear();
  }
  strip_trailing_slashes(entry.path);
  PGM_TRY(check_path(entry.path, "path", header_offset_));
  if (entry.type == TarType::kHardlink) {
    PGM_TRY(check_path(entry.link_target, "hard link target", header_offset_));
  }
  if (entry.type == TarType::kSymlink && entry.link_target.empty()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("tar header at offset {}: symlink \"{}\" has no target",
                                  header_offset_, entry.path));
  }
  entry.size = size;
  member_ = entry.path;
  PGM_TRY(sink_.begin(entry));
  return start_data(entry.type == TarType::kFile ? DataMode::kDeliver : DataMode::kSkip, size);
}

Result<void> TarReader::start_data(DataMode mode, uint64_t size) {
  mode_ = mode;
  member_size_ = size;
  remaining_ = size;
  padding_ = padding_for(size);
  state_ = State::kData;
  if (size == 0) {
    return on_data_done();
  }
  return {};
}

Result<void> TarReader::on_data_done() {
  state_ = padding_ > 0 ? State::kPadding : State::kHeader;
  switch (mode_) {
    case DataMode::kDeliver:
      return sink_.end();
    case DataMode::kSkip:
      return sink_.end();
    case DataMode::kGlobal:
      return {};
    case DataMode::kLongName:
      long_name_ = extended_.substr(0, extended_.find('\0'));
      return {};
    case DataMode::kLongLink:
      long_link_ = extended_.substr(0, extended_.find('\0'));
      return {};
    case DataMode::kPax:
      return apply_pax();
  }
  return {};
}

// pax records: "<length> <key>=<value>\n", length counting the whole record.
Result<void> TarReader::apply_pax() {
  std::string_view rest = extended_;
  auto bad = [&] {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("tar pax header at offset {}: malformed record", header_offset_));
  };
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos) {
      return bad();
    }
    auto length = parse_decimal(rest.substr(0, space));
    if (!length || *length <= space + 1 || *length > rest.size()) {
      return bad();
    }
    const std::string_view record = rest.substr(0, *length);
    rest.remove_prefix(*length);
    if (record.back() != '\n') {
      return bad();
    }
    const std::string_view kv = record.substr(space + 1, record.size() - space - 2);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) {
      return bad();
    }
    const std::string_view key = kv.substr(0, eq);
    const std::string_view value = kv.substr(eq + 1);
    if (key == "path") {
      pax_path_ = std::string(value);
    } else if (key == "linkpath") {
      pax_link_ = std::string(value);
    } else if (key == "size") {
      auto size = parse_decimal(value);
      if (!size) {
        return make_error(
            ErrorCode::kCorruption,
            fmt::format("tar pax header at offset {}: invalid size \"{}\"", header_offset_, value));
      }
      pax_size_ = *size;
    }
  }
  return {};
}

Result<void> TarReader::finish() {
  if (error_) {
    return tl::unexpected<Error>(*error_);
  }
  switch (state_) {
    case State::kEnd:
      return {};
    case State::kHeader:
      if (block_fill_ != 0) {
        return fail(corruption(
            fmt::format("tar archive truncated inside the header at offset {}", header_offset_)));
      }
      if (zero_blocks_ == 1) {
        return fail(corruption(
            fmt::format("tar archive ends after a single zero block at offset {}", offset_)));
      }
      if (long_name_ || long_link_ || pax_path_ || pax_link_ || pax_size_) {
        return fail(corruption(fmt::format(
            "tar archive ends after an extended header, without its member, at offset {}",
            offset_)));
      }
      if (accept_missing_trailer_) {
        state_ = State::kEnd;
        return {};
      }
      return fail(corruption(
          fmt::format("tar archive ends at offset {} without its end-of-archive marker", offset_)));
    case State::kData:
      return fail(corruption(fmt::format("tar member \"{}\" truncated: {} of {} bytes", member_,
                                         member_size_ - remaining_, member_size_)));
    case State::kPadding:
      return fail(corruption(fmt::format("tar member \"{}\" truncated in its padding at offset {}",
                                         member_, offset_)));
    case State::kFailed:
      break;
  }
  return tl::unexpected<Error>(*error_);
}

}  // namespace pgm::backup
