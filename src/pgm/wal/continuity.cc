#include "pgm/wal/continuity.h"

#include <algorithm>
#include <map>

namespace pgm::wal {

StoredSegments classify_segments(const std::vector<std::string>& names, uint64_t seg_size) {
  StoredSegments out;
  for (const std::string& name : names) {
    WalFileInfo info = classify_wal_file(name);
    if (info.kind != WalFileKind::kSegment && info.kind != WalFileKind::kPartial) {
      continue;
    }
    auto id = parse_segment_name(info.base, seg_size);
    if (!id) {
      continue;
    }
    auto& list = info.kind == WalFileKind::kSegment ? out.complete : out.partial;
    list.push_back({*id, name});
  }
  auto order = [](const StoredSegments::File& a, const StoredSegments::File& b) {
    if (a.id.segno != b.id.segno) {
      return a.id.segno < b.id.segno;
    }
    if (a.id.tli != b.id.tli) {
      return a.id.tli < b.id.tli;
    }
    return a.name < b.name;
  };
  std::sort(out.complete.begin(), out.complete.end(), order);
  std::sort(out.partial.begin(), out.partial.end(), order);
  return out;
}

std::optional<std::string> first_missing_segment(const StoredSegments& stored, SegmentNo from,
                                                 TimelineId from_tli, uint64_t seg_size) {
  // Present segment numbers at or after `from`, each with the newest timeline holding it.
  std::map<SegmentNo, TimelineId> present;
  for (const auto* list : {&stored.complete, &stored.partial}) {
    for (const StoredSegments::File& f : *list) {
      if (f.id.segno < from) {
        continue;
      }
      TimelineId& tli = present[f.id.segno];
      tli = std::max(tli, f.id.tli);
    }
  }
  TimelineId tli = from_tli;
  SegmentNo expected = from;
  for (const auto& [segno, newest_tli] : present) {
    if (segno != expected) {
      return segment_name_for(tli, expected, seg_size);
    }
    tli = std::max(tli, newest_tli);
    ++expected;
  }
  return std::nullopt;
}

}  // namespace pgm::wal
