#include "pgm/walsummary/summary_file.h"

#include <charconv>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/io/file.h"

namespace pgm::walsummary {
namespace {

constexpr std::string_view kMagic = "PGMWSUM1";
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 8 + 4;

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}
void put64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}
void put_varint(std::vector<uint8_t>& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

uint32_t crc_of(std::span<const uint8_t> bytes) {
  return backup::crc32c_final(backup::crc32c_update(backup::kCrc32cInit, bytes));
}

// Reads the encoding back, every read bounded.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool u8(uint8_t& v) {
    if (at_ + 1 > bytes_.size()) {
      return false;
    }
    v = bytes_[at_++];
    return true;
  }
  template <typename T>
  bool le(T& v) {
    if (at_ + sizeof(T) > bytes_.size()) {
      return false;
    }
    v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<T>(bytes_[at_ + i]) << (8 * i));
    }
    at_ += sizeof(T);
    return true;
  }
  bool varint(uint32_t& v) {
    uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      uint8_t b = 0;
      if (!u8(b)) {
        return false;
      }
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (value > 0xFFFFFFFFu) {
          return false;
        }
        v = static_cast<uint32_t>(value);
        return true;
      }
    }
    return false;
  }
  size_t offset() const { return at_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

std::string hex_lsn(wal::Lsn lsn) {
  return fmt::format("{:08X}{:08X}", static_cast<uint32_t>(lsn.value() >> 32),
                     static_cast<uint32_t>(lsn.value()));
}

}  // namespace

std::string summary_file_name(const SummaryRange& range) {
  return fmt::format("{:08X}{}{}.summary", range.timeline, hex_lsn(range.start),
                     hex_lsn(range.end));
}

std::optional<SummaryRange> parse_summary_file_name(std::string_view name) {
  constexpr std::string_view kSuffix = ".summary";
  constexpr size_t kHex = 40;
  if (name.size() != kHex + kSuffix.size() || name.substr(kHex) != kSuffix) {
    return std::nullopt;
  }
  uint32_t words[5] = {};
  for (size_t i = 0; i < 5; ++i) {
    const std::string_view hex = name.substr(i * 8, 8);
    auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), words[i], 16);
    if (ec != std::errc() || end != hex.data() + hex.size()) {
      return std::nullopt;
    }
  }
  SummaryRange range;
  range.timeline = words[0];
  range.start = wal::Lsn((uint64_t{words[1]} << 32) | words[2]);
  range.end = wal::Lsn((uint64_t{words[3]} << 32) | words[4]);
  return range;
}

std::vector<uint8_t> encode_summary(const SummaryRange& range,
                                    const std::map<ForkKey, ForkChanges>& forks) {
  std::vector<uint8_t> out(kMagic.begin(), kMagic.end());
  out.reserve(kHeaderSize + forks.size() * 24 + 4);
  put32(out, range.timeline);
  put32(out, static_cast<uint32_t>(range.major));
  put64(out, range.start.value());
  put64(out, range.end.value());
  put32(out, static_cast<uint32_t>(forks.size()));
  for (const auto& [key, changes] : forks) {
    put32(out, key.spc);
    put32(out, key.db);
    put32(out, key.rel);
    out.push_back(key.fork);
    put32(out, changes.limit);
    put32(out, static_cast<uint32_t>(changes.blocks.size()));
    uint32_t next = 0;  // the smallest block the next one may be
    for (uint32_t block : changes.blocks) {
      put_varint(out, block - next);
      next = block + 1;
    }
  }
  put32(out, crc_of(out));
  return out;
}

Result<WalSummary> decode_summary(std::span<const uint8_t> bytes, const std::string& name) {
  auto bad = [&](std::string_view what, size_t offset) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: {} (offset {})", name, what, offset));
  };
  if (bytes.size() < kHeaderSize + 4 ||
      std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return bad("not a WAL summary file", 0);
  }
  const std::span<const uint8_t> body = bytes.first(bytes.size() - 4);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + body.size(), 4);  // little-endian host (x86-64)
  if (crc_of(body) != stored_crc) {
    return bad("CRC mismatch", body.size());
  }
  Reader r(body.subspan(kMagic.size()));
  WalSummary summary;
  uint32_t major = 0;
  uint64_t start = 0, end = 0;
  uint32_t count = 0;
  r.le(summary.range.timeline);
  r.le(major);
  r.le(start);
  r.le(end);
  r.le(count);
  summary.range.major = static_cast<int>(major);
  summary.range.start = wal::Lsn(start);
  summary.range.end = wal::Lsn(end);
  if (end < start) {
    return bad("end LSN before start LSN", kMagic.size());
  }
  const ForkKey* previous = nullptr;
  for (uint32_t i = 0; i < count; ++i) {
    ForkKey key;
    ForkChanges changes;
    uint32_t blocks = 0;
    if (!r.le(key.spc) || !r.le(key.db) || !r.le(key.rel) || !r.u8(key.fork) ||
        !r.le(changes.limit) || !r.le(blocks)) {
      return bad(fmt::format("fork {} of {} cut short", i + 1, count), kMagic.size() + r.offset());
    }
    if (blocks > body.size()) {  // each block takes at least a byte
      return bad(fmt::format("fork {} claims {} blocks", i + 1, blocks),
                 kMagic.size() + r.offset());
    }
    changes.blocks.reserve(blocks);
    uint64_t next = 0;
    for (uint32_t b = 0; b < blocks; ++b) {
      uint32_t gap = 0;
      if (!r.varint(gap) || next + gap >= changes.limit) {
        return bad(fmt::format("fork {}: block {} unreadable or past its limit", i + 1, b + 1),
                   kMagic.size() + r.offset());
      }
      changes.blocks.push_back(static_cast<uint32_t>(next + gap));
      next = next + gap + 1;
    }
    if (previous != nullptr && !(*previous < key)) {
      return bad(fmt::format("fork {} out of order", i + 1), kMagic.size() + r.offset());
    }
    auto [it, inserted] = summary.forks.emplace(key, std::move(changes));
    previous = &it->first;
  }
  if (kMagic.size() + r.offset() != body.size()) {
    return bad("bytes after the last fork", kMagic.size() + r.offset());
  }
  return summary;
}

Result<std::string> write_summary_file(const std::string& dir, const SummaryRange& range,
                                       BlockRefTable& table) {
  const std::vector<uint8_t> bytes = encode_summary(range, table.forks());
  const std::string path = dir + "/" + summary_file_name(range);
  PGM_TRY(io::write_file_atomic(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0600));
  return path;
}

Result<WalSummary> read_summary_file(const std::string& path) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_file(path));
  return decode_summary(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), path);
}

}  // namespace pgm::walsummary
