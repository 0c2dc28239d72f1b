// WalBuilder (tests only): writes WAL the way PostgreSQL lays it out (page headers, records
// aligned to 8 bytes and continued across pages and segments, CRC-32C, xl_prev), so decoder
// tests can build exactly the stream they need. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pgm/wal/lsn.h"
#include "pgm/xlog/record.h"

namespace pgm::xlog::testing {

struct BlockSpec {
  uint8_t id = 0;
  RelLocator rel{1663, 5, 16384};
  uint8_t fork = 0;
  uint32_t block = 0;
  uint8_t flags = 0;  // kBlockWillInit etc.; has-image, has-data and same-rel are derived
  bool same_rel = false;
  std::optional<uint8_t> image_info;  // bimg_info as stored; set = the block has an image
  uint16_t hole_offset = 0;
  uint16_t hole_length = 0;  // stored only when the image is holed and compressed
  std::vector<uint8_t> image;
  std::vector<uint8_t> data;
};

struct RecordSpec {
  uint8_t rmid = 10;  // Heap
  uint8_t info = 0;
  uint32_t xid = 700;
  std::vector<BlockSpec> blocks;
  std::vector<uint8_t> main_data;
  std::optional<uint16_t> origin;
  std::optional<uint32_t> toplevel_xid;
};

// The record's bytes, CRC included, with xl_prev = `prev`.
std::vector<uint8_t> encode_record(const RecordSpec& spec, wal::Lsn prev);

class WalBuilder {
 public:
  // The stream starts at the first byte of segment `first_segment`.
  explicit WalBuilder(int major = 15, uint32_t segment_size = 1u << 20, uint32_t page_size = 8192,
                      uint64_t first_segment = 1, uint32_t timeline = 1);

  // Appends a record after the last one; returns its LSN.
  wal::Lsn append(const RecordSpec& spec);
  // Appends already encoded bytes (their xl_prev is not touched) as the next record.
  wal::Lsn append_raw(const std::vector<uint8_t>& bytes);
  // Writes the start of a record up to the end of the current page and marks the next page
  // XLP_FIRST_IS_OVERWRITE_CONTRECORD, as after a crash that lost the record's end.
  wal::Lsn append_aborted(const RecordSpec& spec);
  // An XLOG_SWITCH record, then zeros up to the end of its segment.
  wal::Lsn append_switch();
  // The stream up to here, zero-padded to a whole page (zeros where a record would start:
  // the end of the WAL).
  std::vector<uint8_t> bytes() const;
  // The stream padded up to the end of the current segment.
  std::vector<uint8_t> bytes_to_segment_end() const;

  wal::Lsn position() const { return start_ + data_.size(); }
  wal::Lsn last_record() const { return last_; }
  uint32_t segment_size() const { return segment_size_; }

 private:
  void put(const std::vector<uint8_t>& record, size_t limit);
  void page_header(uint16_t flags, uint32_t rem_len);
  void align();

  uint16_t magic_;
  uint32_t segment_size_;
  uint32_t page_size_;
  uint32_t timeline_;
  wal::Lsn start_;
  wal::Lsn last_;
  uint16_t next_page_flags_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace pgm::xlog::testing
