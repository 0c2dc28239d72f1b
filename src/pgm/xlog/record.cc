#include "pgm/xlog/record.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/xlog/format.h"

namespace pgm::xlog {
namespace {

// Reads little-endian integers from a span, refusing to run past its end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }
  template <typename T>
  bool read(T& out) {
    if (remaining() < sizeof(T)) {
      return false;
    }
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool take(size_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) {
      return false;
    }
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

tl::unexpected<Error> corrupt(const std::string& what) {
  return make_error(ErrorCode::kCorruption, what);
}

// Reads an image header's info byte the way `major` wrote it.
Result<void> read_image_info(uint8_t bimg_info, int major, BlockRef& block) {
  if (major <= 14) {
    if ((bimg_info & ~(kImageHasHole | kImageIsCompressed14 | kImageApply14)) != 0) {
      return corrupt(fmt::format("unknown image flags 0x{:02X}", bimg_info));
    }
    block.apply_image = (bimg_info & kImageApply14) != 0;
    block.compression =
        (bimg_info & kImageIsCompressed14) != 0 ? ImageCompression::kPglz : ImageCompression::kNone;
  } else {
    const uint8_t methods = kImageCompressPglz | kImageCompressLz4 | kImageCompressZstd;
    if ((bimg_info & ~(kImageHasHole | kImageApply15 | methods)) != 0) {
      return corrupt(fmt::format("unknown image flags 0x{:02X}", bimg_info));
    }
    block.apply_image = (bimg_info & kImageApply15) != 0;
    switch (bimg_info & methods) {
      case 0:
        block.compression = ImageCompression::kNone;
        break;
      case kImageCompressPglz:
        block.compression = ImageCompression::kPglz;
        break;
      case kImageCompressLz4:
        block.compression = ImageCompression::kLz4;
        break;
      case kImageCompressZstd:
        block.compression = ImageCompression::kZstd;
        break;
      default:
        return corrupt(fmt::format("image with several compression flags 0x{:02X}", bimg_info));
    }
  }
  return {};
}

}  // namespace

const char* image_compression_name(ImageCompression compression) {
  switch (compression) {
    case ImageCompression::kNone:
      return "none";
    case ImageCompression::kPglz:
      return "pglz";
    case ImageCompression::kLz4:
      return "lz4";
    case ImageCompression::kZstd:
      return "zstd";
  }
  return "unknown";
}

uint8_t Record::record_type() const { return static_cast<uint8_t>(info & ~kInfoMask); }

uint32_t Record::image_bytes() const {
  uint32_t total = 0;
  for (const BlockRef& block : blocks) {
    total += block.has_image ? block.image_length : 0;
  }
  return total;
}

uint32_t compute_record_crc(std::span<const uint8_t> bytes) {
  uint32_t crc = backup::kCrc32cInit;
  if (bytes.size() > kRecordHeaderSize) {
    crc = backup::crc32c_update(crc, bytes.subspan(kRecordHeaderSize));
  }
  crc = backup::crc32c_update(crc, bytes.first(std::min(bytes.size(), kRecordCrcOffset)));
  return backup::crc32c_final(crc);
}

bool record_crc_ok(std::span<const uint8_t> bytes) {
  if (bytes.size() < kRecordHeaderSize) {
    return false;
  }
  uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + kRecordCrcOffset, sizeof(stored));
  return stored == compute_record_crc(bytes);
}

Result<Record> parse_record(std::span<const uint8_t> bytes, int major) {
  Record record;
  record.bytes = bytes;
  Reader header(bytes);
  uint64_t prev = 0;
  uint16_t padding = 0;
  if (!header.read(record.total_length) || !header.read(record.xid) || !header.read(prev) ||
      !header.read(record.info) || !header.read(record.rmid) || !header.read(padding) ||
      !header.read(record.crc)) {
    return corrupt(fmt::format("record of {} bytes is shorter than its header", bytes.size()));
  }
  record.prev = wal::Lsn(prev);
  if (record.total_length != bytes.size()) {
    return corrupt(fmt::format("record length {} differs from its {} bytes", record.total_length,
                               bytes.size()));
  }

  // The headers: block references, origin, top-level xid, then the main data length, which
  // ends them. `payload` counts the bytes announced for after the headers.
  Reader in(bytes.subspan(kRecordHeaderSize));
  uint64_t payload = 0;
  uint32_t main_length = 0;
  int last_block_id = -1;
  std::optional<RelLocator> last_rel;
  while (in.remaining() > payload) {
    uint8_t id = 0;
    in.read(id);
    if (id == kBlockIdDataShort) {
      uint8_t length = 0;
      if (!in.read(length)) {
        return corrupt("record ends inside its main data header");
      }
      main_length = length;
      payload += length;
      break;
    }
    if (id == kBlockIdDataLong) {
      if (!in.read(main_length)) {
        return corrupt("record ends inside its main data header");
      }
      payload += main_length;
      break;
    }
    if (id == kBlockIdOrigin) {
      uint16_t origin = 0;
      if (!in.read(origin)) {
        return corrupt("record ends inside its origin header");
      }
      record.origin = origin;
      continue;
    }
    if (id == kBlockIdToplevelXid && major >= 14) {
      uint32_t xid = 0;
      if (!in.read(xid)) {
        return corrupt("record ends inside its top-level xid header");
      }
      record.toplevel_xid = xid;
      continue;
    }
    if (id > kMaxBlockId) {
      return corrupt(fmt::format("invalid block id {}", id));
    }
    if (static_cast<int>(id) <= last_block_id) {
      return corrupt(fmt::format("out-of-order block id {}", id));
    }
    last_block_id = id;
    BlockRef block;
    block.id = id;
    uint8_t fork_flags = 0;
    if (!in.read(fork_flags) || !in.read(block.data_length)) {
      return corrupt(fmt::format("record ends inside the header of block {}", id));
    }
    block.fork = fork_flags & kBlockForkMask;
    block.will_init = (fork_flags & kBlockWillInit) != 0;
    block.has_image = (fork_flags & kBlockHasImage) != 0;
    const bool has_data = (fork_flags & kBlockHasData) != 0;
    if (has_data != (block.data_length != 0)) {
      return corrupt(fmt::format("block {}: data flag {} with data length {}", id,
                                 has_data ? "set" : "unset", block.data_length));
    }
    payload += block.data_length;
    if (block.has_image) {
      uint8_t bimg_info = 0;
      if (!in.read(block.image_length) || !in.read(block.hole_offset) || !in.read(bimg_info)) {
        return corrupt(fmt::format("record ends inside the image header of block {}", id));
      }
      PGM_TRY(read_image_info(bimg_info, major, block).map_error([&](const Error& e) {
        return e.with_context(fmt::format("block {}", id));
      }));
      const bool has_hole = (bimg_info & kImageHasHole) != 0;
      const bool compressed = block.compression != ImageCompression::kNone;
      if (has_hole && compressed) {
        if (!in.read(block.hole_length)) {
          return corrupt(fmt::format("record ends inside the image header of block {}", id));
        }
      } else if (has_hole) {
        block.hole_length = block.image_length <= kBlockSize
                                ? static_cast<uint16_t>(kBlockSize - block.image_length)
                                : 0;
      }
      // The same consistency rules as PostgreSQL's reader.
      if (has_hole &&
          (block.hole_offset == 0 || block.hole_length == 0 || block.image_length == kBlockSize)) {
        return corrupt(fmt::format("block {}: invalid hole offset {} length {} image length {}", id,
                                   block.hole_offset, block.hole_length, block.image_length));
      }
      if (!has_hole && (block.hole_offset != 0 || block.hole_length != 0)) {
        return corrupt(fmt::format("block {}: hole offset {} length {} without the hole flag", id,
                                   block.hole_offset, block.hole_length));
      }
      if (compressed && block.image_length == kBlockSize) {
        return corrupt(fmt::format("block {}: compressed image of a whole block", id));
      }
      if (!has_hole && !compressed && block.image_length != kBlockSize) {
        return corrupt(fmt::format("block {}: image length {} without hole or compression", id,
                                   block.image_length));
      }
      if (uint32_t{block.hole_offset} + block.hole_length > kBlockSize) {
        return corrupt(fmt::format("block {}: hole past the end of the block", id));
      }
      payload += block.image_length;
    }
    if ((fork_flags & kBlockSameRel) != 0) {
      if (!last_rel) {
        return corrupt(
            fmt::format("block {}: same relation as the previous block, but there is "
                        "none",
                        id));
      }
      block.rel = *last_rel;
    } else if (!in.read(block.rel.spc) || !in.read(block.rel.db) || !in.read(block.rel.rel)) {
      return corrupt(fmt::format("record ends inside the relation of block {}", id));
    }
    if (!in.read(block.block)) {
      return corrupt(fmt::format("record ends inside the block number of block {}", id));
    }
    last_rel = block.rel;
    record.blocks.push_back(block);
  }
  if (in.remaining() != payload) {
    return corrupt(fmt::format("record's headers announce {} bytes of data, {} follow", payload,
                               in.remaining()));
  }
  // Then, in order: each block's image and data, the main data.
  for (BlockRef& block : record.blocks) {
    if (block.has_image) {
      in.take(block.image_length, block.image);
    }
    in.take(block.data_length, block.data);
  }
  in.take(main_length, record.main_data);
  return record;
}

}  // namespace pgm::xlog
