// WAL pruning: removal of the segments no backup needs any more from a wal/ directory
// (<base_dir>/<server>/wal, <wal_shipping>/<server>/wal), the building block of retention.
// Free functions, thread-safe; two prunes of the same directory may run at once (a file
// removed by the other one is skipped), but the caller must keep the receiver from
// streaming a segment older than `oldest_needed` into the directory meanwhile.
//
// A file goes when its segment number (on any timeline) is strictly below `oldest_needed`:
// complete segments with any compression and/or .aes suffix (WalFileKind::kSegment) and
// .partial files (kPartial). History files, segments >= oldest_needed and every name
// classify_wal_file() calls kOther (temp files, unknown suffixes) stay. Removal is in name
// order; the directory is fsynced once after the last removal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/segment.h"

namespace pgm::wal {

struct PruneResult {
  size_t removed = 0;              // number of files removed
  uint64_t bytes = 0;              // their total size in bytes (st_size)
  std::vector<std::string> names;  // their names, sorted
};

// Removes from `dir` every WAL file of a segment older than `oldest_needed` (see above).
// A missing `dir` is not an error (empty result). Errors:
//  * an invalid seg_size -> kInvalidArgument;
//  * a segment name in `dir` that does not fit seg_size (a sign the size is wrong, so every
//    segment number would be) -> kInvalidArgument naming the file, before anything is removed;
//  * a directory that cannot be read -> kIo/kPermission naming it;
//  * an unlink (or stat) failure other than ENOENT -> the error naming the file, e.g.
//    "prune <dir> (2 files removed before): remove <dir>/<name>: Is a directory"; the files
//    removed before it stay removed and the directory is fsynced (best effort);
//  * the final directory fsync failing -> kIo naming the directory.
// Blocks on disk I/O.
Result<PruneResult> prune_wal(const std::string& dir, SegmentNo oldest_needed, uint64_t seg_size);

// prune_wal() with oldest_needed taken from a segment file name such as
// "000000010000000000000005" (the first WAL segment of the oldest kept backup, as backup.info
// records it in WAL=...). The timeline of the name plays no part. A name that is not exactly
// 24 upper-case hex digits fitting seg_size, or an invalid seg_size -> kInvalidArgument.
Result<PruneResult> prune_wal_before(const std::string& dir, std::string_view oldest_segment_name,
                                     uint64_t seg_size);

}  // namespace pgm::wal
