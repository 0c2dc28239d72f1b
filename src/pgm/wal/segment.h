// WAL segment arithmetic and file names (PostgreSQL's XLogFileName semantics), and the
// classification of names found in a wal/ directory. Pure functions, thread-safe.
//
// A segment file name is 24 upper-case hex digits "TTTTTTTTXXXXXXXXYYYYYYYY": the timeline,
// then the segment number split as segno / (4 GiB / seg_size) and segno % (4 GiB / seg_size).
// Segment sizes are powers of two from 1 MiB to 1 GiB (16 MiB by default).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"

namespace pgm::wal {

inline constexpr uint64_t kDefaultSegmentSize = uint64_t{16} << 20;
inline constexpr uint64_t kMinSegmentSize = uint64_t{1} << 20;
inline constexpr uint64_t kMaxSegmentSize = uint64_t{1} << 30;
inline constexpr size_t kSegmentNameLength = 24;

using SegmentNo = uint64_t;

// True for a power of two between 1 MiB and 1 GiB.
bool is_valid_segment_size(uint64_t seg_size);
// kInvalidArgument naming the size unless is_valid_segment_size().
Result<void> check_segment_size(uint64_t seg_size);

// The functions below require a valid seg_size (callers check it once at configuration).
SegmentNo segment_number(Lsn lsn, uint64_t seg_size);
Lsn segment_start(SegmentNo segno, uint64_t seg_size);
// Byte offset of lsn inside its segment.
uint64_t segment_offset(Lsn lsn, uint64_t seg_size);
// Start of the segment that follows the one holding lsn.
Lsn next_segment_start(Lsn lsn, uint64_t seg_size);

// Name of the segment holding lsn on timeline tli: "000000010000000000000003".
std::string segment_name(TimelineId tli, Lsn lsn, uint64_t seg_size);
std::string segment_name_for(TimelineId tli, SegmentNo segno, uint64_t seg_size);

struct SegmentId {
  TimelineId tli;
  SegmentNo segno = 0;
  friend bool operator==(const SegmentId&, const SegmentId&) = default;
};
// Parses exactly 24 upper-case hex digits. A low part that does not fit seg_size (e.g. above
// 0xFF for 16 MiB) or a bad name -> kInvalidArgument naming the input.
Result<SegmentId> parse_segment_name(std::string_view name, uint64_t seg_size);

// "%08X.history", e.g. "00000002.history".
std::string history_file_name(TimelineId tli);

enum class WalFileKind {
  kSegment,  // complete segment, possibly compressed and/or encrypted
  kPartial,  // "<segment>.partial", still being written
  kHistory,  // "<tli>.history"
  kOther,    // anything else (temp files, unknown suffixes)
};

struct WalFileInfo {
  WalFileKind kind = WalFileKind::kOther;
  // The 24-character segment name (kSegment, kPartial) or the 8-digit timeline (kHistory).
  std::string base;
  TimelineId tli;  // set for kSegment, kPartial and kHistory
  compress::Algorithm compression = compress::Algorithm::kNone;  // kSegment only
  bool encrypted = false;                                        // kSegment only (".aes")
};

// Classifies a directory entry name. A complete segment may carry one compression suffix
// (.gz .zstd .zst .lz4 .bz2) followed by an optional .aes suffix; nothing else is accepted.
WalFileInfo classify_wal_file(std::string_view name);

}  // namespace pgm::wal
