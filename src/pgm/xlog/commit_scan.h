// Commit timestamps and whole-file checks of stored WAL, for the daemon's continuity check
// (docs/monitoring.md, "WAL continuity and RPO"). Pure functions and one blocking file scan;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/xlog/record.h"

namespace pgm::io {
class FileSystem;
}

namespace pgm::xlog {

// PostgreSQL's epoch (2000-01-01 00:00:00 UTC) in Unix seconds.
inline constexpr int64_t kPgEpochUnixSeconds = 946684800;

// The commit time of a Transaction COMMIT or COMMIT PREPARED record (xact_time, microseconds
// since PostgreSQL's epoch, the first field of the main data in 13 to 18); nullopt for any
// other record, or when the main data is too short to hold it.
std::optional<int64_t> commit_time(const Record& record);

// Microseconds since PostgreSQL's epoch -> microseconds since the Unix epoch.
constexpr int64_t pg_to_unix_micros(int64_t pg_micros) {
  return pg_micros + kPgEpochUnixSeconds * 1000000;
}

struct SegmentScan {
  uint64_t records = 0;
  // The newest commit time met (Unix microseconds); nullopt when the file holds no commit.
  std::optional<int64_t> newest_commit_unix_us;
  // The decoder's (or a layer's) complaint, naming the file and offset; empty when the whole
  // file decoded. Records before the complaint were counted.
  std::string problem;
  // The file was not readable (it vanished, e.g. renamed by the compressor): no finding.
  bool unreadable = false;
};

// Decodes the stored WAL file at `path` (plain, .partial, compressed, .aes with `key`; see
// stored_segment.h) with a fresh decoder, checking every record's CRC and prev-link. A record
// continued from the previous segment is skipped. For a .partial file an unfinished tail is
// not a problem: `complete` false ignores what decoding meets after the last whole record.
// Never an error: findings are in the result. Blocks on disk I/O.
SegmentScan scan_stored_segment(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                                const crypto::MasterKey* key, bool complete);

}  // namespace pgm::xlog
