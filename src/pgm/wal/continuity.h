// WAL continuity: which segment is the first one missing from a wal/ directory between the
// segment the oldest backup needs and the newest one stored. Pure functions, thread-safe.
//
// A segment number counts as present when a file of it exists on any timeline (complete, with
// any compression or .aes suffix, or .partial): at a timeline switch the segment exists on
// both timelines, and after a promotion the newer timeline's files continue the older one's
// numbers. The missing segment is named on the timeline of the nearest present segment before
// it (where the WAL that should follow it was written).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/wal/segment.h"

namespace pgm::wal {

struct StoredSegments {
  // Complete segments, ascending by (segment number, timeline), with their file names.
  struct File {
    SegmentId id;
    std::string name;  // the directory entry, suffixes included
  };
  std::vector<File> complete;
  std::vector<File> partial;  // .partial files, same order
};

// Sorts the segment files among `names` (directory entries); names that do not fit seg_size
// and every other kind of file are left out.
StoredSegments classify_segments(const std::vector<std::string>& names, uint64_t seg_size);

// The first segment number in [from, newest stored] without any file, as a segment name;
// nullopt when there is none (or nothing at or after `from` is stored).
std::optional<std::string> first_missing_segment(const StoredSegments& stored, SegmentNo from,
                                                 TimelineId from_tli, uint64_t seg_size);

}  // namespace pgm::wal
