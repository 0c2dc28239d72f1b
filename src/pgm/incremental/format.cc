#include "pgm/incremental/format.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace pgm::incremental {

// PostgreSQL writes the header in the server's byte order; every platform we build for is
// little-endian, and the files must stay readable by pg_combinebackup on the same platform.
static_assert(std::endian::native == std::endian::little,
              "INCREMENTAL files are read and written little-endian");

namespace {

uint32_t load_u32(const uint8_t* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_u32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, sizeof v);
  out.insert(out.end(), b, b + 4);
}

Error corrupt(const std::string& file, const std::string& what) {
  return Error(ErrorCode::kCorruption, fmt::format("{}: incremental file: {}", file, what));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An OID or relfilenumber: 1 to 10 digits, no leading zero.
bool is_oid(std::string_view s) { return all_digits(s) && s.size() <= 10 && s[0] != '0'; }

}  // namespace

size_t header_size(size_t block_count) {
  size_t size = kFixedHeaderSize + sizeof(uint32_t) * block_count;
  if (block_count > 0 && size % kBlockSize != 0) {
    size += kBlockSize - size % kBlockSize;
  }
  return size;
}

size_t Header::size() const { return header_size(blocks.size()); }

uint32_t Header::reconstructed_length() const {
  if (!blocks.empty() && blocks.back() >= truncation_block_length) {
    return blocks.back() + 1;
  }
  return truncation_block_length;
}

Result<std::vector<uint8_t>> encode_header(const Header& header) {
  if (header.truncation_block_length > kSegmentBlocks) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("truncation block length {} exceeds a segment ({} blocks)",
                                  header.truncation_block_length, kSegmentBlocks));
  }
  for (size_t i = 0; i < header.blocks.size(); ++i) {
    if (header.blocks[i] >= kSegmentBlocks || (i > 0 && header.blocks[i] <= header.blocks[i - 1])) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("block number {} at index {} is out of order or beyond a segment",
                      header.blocks[i], i));
    }
  }
  std::vector<uint8_t> out;
  out.reserve(header.size());
  store_u32(out, kMagic);
  store_u32(out, static_cast<uint32_t>(header.blocks.size()));
  store_u32(out, header.truncation_block_length);
  for (uint32_t block : header.blocks) {
    store_u32(out, block);
  }
  out.resize(header.size(), 0);
  return out;
}

Result<void> HeaderReader::parse_fixed() {
  const uint32_t magic = load_u32(buffer_.data());
  if (magic != kMagic) {
    return tl::unexpected(
        corrupt(file_, fmt::format("bad magic 0x{:08x} (expected 0x{:08x})", magic, kMagic)));
  }
  count_ = load_u32(buffer_.data() + 4);
  header_.truncation_block_length = load_u32(buffer_.data() + 8);
  if (count_ > kSegmentBlocks) {
    return tl::unexpected(corrupt(file_, fmt::format("block count {} exceeds a segment ({} blocks)",
                                                     count_, kSegmentBlocks)));
  }
  if (header_.truncation_block_length > kSegmentBlocks) {
    return tl::unexpected(
        corrupt(file_, fmt::format("truncation block length {} exceeds a segment ({} blocks)",
                                   header_.truncation_block_length, kSegmentBlocks)));
  }
  have_fixed_ = true;
  wanted_ = header_size(count_);
  return {};
}

Result<void> HeaderReader::parse_blocks() {
  header_.blocks.resize(count_);
  for (uint32_t i = 0; i < count_; ++i) {
    const uint32_t block = load_u32(buffer_.data() + kFixedHeaderSize + 4 * size_t{i});
    if (block >= kSegmentBlocks || (i > 0 && block <= header_.blocks[i - 1])) {
      return tl::unexpected(corrupt(
          file_, fmt::format("block number {} at index {} is out of order or beyond a segment",
                             block, i)));
    }
    header_.blocks[i] = block;
  }
  const size_t used = kFixedHeaderSize + 4 * size_t{count_};
  if (std::any_of(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.end(),
                  [](uint8_t b) { return b != 0; })) {
    return tl::unexpected(corrupt(file_, "header padding is not zero"));
  }
  have_blocks_ = true;
  return {};
}

Result<size_t> HeaderReader::feed(std::span<const uint8_t> bytes) {
  size_t taken = 0;
  while (!done_ && taken < bytes.size()) {
    const size_t n = std::min(wanted_ - buffer_.size(), bytes.size() - taken);
    buffer_.insert(buffer_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(taken),
                   bytes.begin() + static_cast<std::ptrdiff_t>(taken + n));
    taken += n;
    if (buffer_.size() < wanted_) {
      break;
    }
    if (!have_fixed_) {
      if (auto fixed = parse_fixed(); !fixed) {
        return tl::unexpected(fixed.error());
      }
      if (buffer_.size() < wanted_) {
        continue;
      }
    }
    if (!have_blocks_) {
      if (auto parsed = parse_blocks(); !parsed) {
        return tl::unexpected(parsed.error());
      }
    }
    done_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
  }
  return taken;
}

Result<Header> parse_header(std::span<const uint8_t> bytes, const std::string& file) {
  HeaderReader reader(file);
  auto taken = reader.feed(bytes);
  if (!taken) {
    return tl::unexpected(taken.error());
  }
  if (!reader.done()) {
    return tl::unexpected(corrupt(file, fmt::format("header truncated at {} bytes", bytes.size())));
  }
  return reader.header();
}

Result<void> check_file_size(const Header& header, uint64_t file_size, const std::string& file) {
  if (file_size != header.file_size()) {
    return tl::unexpected(corrupt(
        file, fmt::format("{} bytes, but a header of {} blocks needs exactly {} (misaligned or "
                          "truncated block data)",
                          file_size, header.blocks.size(), header.file_size())));
  }
  return {};
}

std::optional<RelationFile> parse_relation_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view dir = path.substr(0, slash);
  std::string_view name = path.substr(slash + 1);

  // The directory: global, base/<db>, pg_tblspc/<spc>/<version dir>/<db>.
  bool dir_ok = false;
  if (dir == "global") {
    dir_ok = true;
  } else if (dir.starts_with("base/")) {
    dir_ok = is_oid(dir.substr(5));
  } else if (dir.starts_with("pg_tblspc/")) {
    std::string_view rest = dir.substr(10);
    const size_t a = rest.find('/');
    const size_t b = a == std::string_view::npos ? a : rest.find('/', a + 1);
    if (b != std::string_view::npos) {
      const std::string_view spc = rest.substr(0, a);
      const std::string_view version = rest.substr(a + 1, b - a - 1);
      const std::string_view db = rest.substr(b + 1);
      dir_ok = is_oid(spc) && version.starts_with("PG_") && is_oid(db);
    }
  }
  if (!dir_ok) {
    return std::nullopt;
  }

  // The name: <relfilenumber>[_<fork>][.<segment>].
  RelationFile file;
  if (const size_t dot = name.find('.'); dot != std::string_view::npos) {
    const std::string_view segment = name.substr(dot + 1);
    if (!all_digits(segment) || segment.size() > 9 || (segment.size() > 1 && segment[0] == '0')) {
      return std::nullopt;
    }
    file.segment = static_cast<uint32_t>(std::stoul(std::string(segment)));
    if (file.segment == 0) {
      return std::nullopt;  // PostgreSQL never names a first segment ".0"
    }
    name = name.substr(0, dot);
  }
  if (const size_t underscore = name.find('_'); underscore != std::string_view::npos) {
    file.fork = name.substr(underscore + 1);
    if (file.fork != "fsm" && file.fork != "vm" && file.fork != "init") {
      return std::nullopt;
    }
    name = name.substr(0, underscore);
  }
  if (!is_oid(name)) {
    return std::nullopt;
  }
  return file;
}

bool incremental_candidate(std::string_view path, uint64_t size) {
  const auto relation = parse_relation_path(path);
  return relation && relation->fork != "fsm" && size % kBlockSize == 0 &&
         size / kBlockSize <= kSegmentBlocks;
}

std::string incremental_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t at = slash == std::string_view::npos ? 0 : slash + 1;
  return fmt::format("{}{}{}", path.substr(0, at), kPrefix, path.substr(at));
}

std::optional<std::string> strip_incremental(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t at = slash == std::string_view::npos ? 0 : slash + 1;
  if (!path.substr(at).starts_with(kPrefix) || path.size() == at + kPrefix.size()) {
    return std::nullopt;
  }
  return fmt::format("{}{}", path.substr(0, at), path.substr(at + kPrefix.size()));
}

}  // namespace pgm::incremental
