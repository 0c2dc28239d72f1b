// summarize_stored_segment(): the WAL summary of one stored segment, from the files the
// daemon stores (plain, .partial, compressed, .aes), as the daemon needs it after a segment
// is complete. The range is [the segment's first byte, its end): the records that START in
// it, so consecutive segments' summaries neither overlap nor leave a record out. The record
// a segment begins with when it continues one from the segment before belongs to that one;
// the last record may continue into the following segment(s), which are read only until it
// ends. Blocks on disk; thread-safe on distinct tables.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/walsummary/block_ref_table.h"
#include "pgm/walsummary/summarize.h"
#include "pgm/walsummary/summary_file.h"

namespace pgm::io {
class FileSystem;
}

namespace pgm::walsummary {

struct SegmentSource {
  std::string path;                // the stored segment file
  std::vector<std::string> after;  // the stored files of the segments that follow, in order
  crypto::AesMode mode = crypto::AesMode::kNone;  // of .aes files
  const crypto::MasterKey* key = nullptr;         // for .aes files; borrowed
};

// Adds the records starting in the segment to `table` and returns the range they cover
// (timeline, first byte of the segment, its end; the major that wrote it), or nullopt when
// the segment's last record continues past the files in `after` (try again once more is
// stored). Errors: kCorruption (naming the file and offset) for a damaged segment;
// summarize_record()'s errors.
Result<std::optional<SummaryRange>> summarize_stored_segment(io::FileSystem& fs,
                                                             const SegmentSource& source,
                                                             BlockRefTable& table,
                                                             const Rules& rules = {});

}  // namespace pgm::walsummary
