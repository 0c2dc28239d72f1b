#include "pgm/wal/segment.h"

#include <fmt/format.h>

namespace pgm::wal {
namespace {

constexpr uint64_t kXLogIdSpan = uint64_t{1} << 32;  // bytes covered by one "log id"

uint64_t segments_per_log_id(uint64_t seg_size) { return kXLogIdSpan / seg_size; }

bool is_upper_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

uint32_t hex_to_u32(std::string_view text) {
  uint32_t value = 0;
  for (char c : text) {
    value = (value << 4) | static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
  }
  return value;
}

bool consume_suffix(std::string_view& name, std::string_view suffix) {
  if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
    name.remove_suffix(suffix.size());
    return true;
  }
  return false;
}

bool is_segment_name(std::string_view name) {
  return name.size() == kSegmentNameLength && is_upper_hex(name);
}

}  // namespace

bool is_valid_segment_size(uint64_t seg_size) {
  return seg_size >= kMinSegmentSize && seg_size <= kMaxSegmentSize &&
         (seg_size & (seg_size - 1)) == 0;
}

Result<void> check_segment_size(uint64_t seg_size) {
  if (!is_valid_segment_size(seg_size)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid wal segment size {}: must be a power of two "
                                  "between 1 MiB and 1 GiB",
                                  seg_size));
  }
  return {};
}

SegmentNo segment_number(Lsn lsn, uint64_t seg_size) { return lsn.value() / seg_size; }

Lsn segment_start(SegmentNo segno, uint64_t seg_size) { return Lsn(segno * seg_size); }

uint64_t segment_offset(Lsn lsn, uint64_t seg_size) { return lsn.value() & (seg_size - 1); }

Lsn next_segment_start(Lsn lsn, uint64_t seg_size) {
  return segment_start(segment_number(lsn, seg_size) + 1, seg_size);
}

std::string segment_name(TimelineId tli, Lsn lsn, uint64_t seg_size) {
  return segment_name_for(tli, segment_number(lsn, seg_size), seg_size);
}

std::string segment_name_for(TimelineId tli, SegmentNo segno, uint64_t seg_size) {
  uint64_t per_id = segments_per_log_id(seg_size);
  return fmt::format("{:08X}{:08X}{:08X}", tli.value(), static_cast<uint32_t>(segno / per_id),
                     static_cast<uint32_t>(segno % per_id));
}

Result<SegmentId> parse_segment_name(std::string_view name, uint64_t seg_size) {
  if (!is_segment_name(name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid wal segment name \"{}\": expected 24 upper-case "
                                  "hex digits",
                                  name));
  }
  uint64_t per_id = segments_per_log_id(seg_size);
  uint32_t tli = hex_to_u32(name.substr(0, 8));
  uint64_t log_id = hex_to_u32(name.substr(8, 8));
  uint64_t seg = hex_to_u32(name.substr(16, 8));
  if (seg >= per_id) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid wal segment name \"{}\": segment part {:X} too large "
                                  "for segment size {}",
                                  name, seg, seg_size));
  }
  return SegmentId{TimelineId(tli), log_id * per_id + seg};
}

std::string history_file_name(TimelineId tli) { return fmt::format("{:08X}.history", tli.value()); }

WalFileInfo classify_wal_file(std::string_view name) {
  WalFileInfo info;
  std::string_view rest = name;
  if (consume_suffix(rest, ".history")) {
    if (rest.size() == 8 && is_upper_hex(rest)) {
      info.kind = WalFileKind::kHistory;
      info.base = std::string(rest);
      info.tli = TimelineId(hex_to_u32(rest));
    }
    return info;
  }
  if (consume_suffix(rest, ".partial")) {
    if (is_segment_name(rest)) {
      info.kind = WalFileKind::kPartial;
      info.base = std::string(rest);
      info.tli = TimelineId(hex_to_u32(rest.substr(0, 8)));
    }
    return info;
  }
  bool encrypted = consume_suffix(rest, ".aes");
  compress::Algorithm compression = compress::Algorithm::kNone;
  if (auto m = compress::match_suffix(rest)) {
    compression = m->algorithm;
    rest.remove_suffix(m->length);
  }
  if (is_segment_name(rest)) {
    info.kind = WalFileKind::kSegment;
    info.base = std::string(rest);
    info.tli = TimelineId(hex_to_u32(rest.substr(0, 8)));
    info.compression = compression;
    info.encrypted = encrypted;
  }
  return info;
}

}  // namespace pgm::wal
