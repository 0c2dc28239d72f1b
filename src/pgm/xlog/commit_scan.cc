#include "pgm/xlog/commit_scan.h"

#include <cstring>

#include <fmt/format.h>

#include "pgm/io/file_system.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/stored_segment.h"

namespace pgm::xlog {

std::optional<int64_t> commit_time(const Record& record) {
  if (record.rmid != kRmTransaction) {
    return std::nullopt;
  }
  const uint8_t op = record.record_type() & 0x70;  // XLOG_XACT_OPMASK
  if (op != 0x00 && op != 0x30) {                  // COMMIT, COMMIT_PREPARED
    return std::nullopt;
  }
  if (record.main_data.size() < sizeof(int64_t)) {
    return std::nullopt;
  }
  int64_t time = 0;
  std::memcpy(&time, record.main_data.data(), sizeof(time));
  return time;
}

SegmentScan scan_stored_segment(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                                const crypto::MasterKey* key, bool complete) {
  SegmentScan scan;
  Decoder decoder;
  std::optional<int64_t> newest;
  auto sink = [&](const Record& r) -> Result<void> {
    ++scan.records;
    if (auto t = commit_time(r); t && (!newest || *t > *newest)) {
      newest = *t;
    }
    return {};
  };
  auto decoded = decode_stored_file(fs, path, mode, key, decoder, sink);
  if (decoded) {
    // A segment alone may end inside a record the next segment completes: no finish(); a
    // complete one must hold exactly one segment's bytes.
    if (complete &&
        (decoder.segment_size() == 0 || decoder.bytes_fed() != decoder.segment_size())) {
      scan.problem = fmt::format("{}: {} bytes, a segment holds {}", path, decoder.bytes_fed(),
                                 decoder.segment_size());
    }
  } else if (decoded.error().code() == ErrorCode::kNotFound) {
    scan.unreadable = true;
  } else if (complete) {
    scan.problem = decoded.error().message();
  }
  if (newest) {
    scan.newest_commit_unix_us = pg_to_unix_micros(*newest);
  }
  return scan;
}

}  // namespace pgm::xlog
