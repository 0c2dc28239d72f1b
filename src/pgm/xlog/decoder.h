// Decoder: turns the bytes of consecutive WAL segments, fed in chunks of any size, into
// records. Not thread-safe; one instance per stream.
//
// The stream starts at the first byte of a segment (its page has the long header, which gives
// the page and segment sizes, the system id and, by its magic, the major). Pages are checked
// (magic, address, flags, timeline), records are reassembled across pages and segments, their
// CRC-32C and xl_prev checked, and each is handed to the sink as soon as the page holding its
// last byte is complete. At most one page plus the record being assembled is held in memory.
//
// A record continued from before the stream's first page is skipped (as pg_waldump does). A
// page flagged XLP_FIRST_IS_OVERWRITE_CONTRECORD drops the record whose end was never written.
// After XLOG_SWITCH the rest of the segment is skipped. A record length of zero where a record
// should start is the end of the WAL: ended() becomes true and later bytes are ignored.
//
// Errors (kCorruption) name the file and the byte offset in it: "000000010000000000000003:
// offset 0x2018 (lsn 0/3002018): record with incorrect prev-link 0/30016F0, expected
// 0/3001FE0". After an error the decoder stays failed: feed() returns the same error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"
#include "pgm/xlog/record.h"

namespace pgm::xlog {

// Receives each record; the record and its spans are valid only during the call. An error
// stops the decoder and is returned by feed().
using RecordSink = std::function<Result<void>(const Record&)>;

class Decoder {
 public:
  Decoder() = default;

  // Names the file whose bytes come next, for error messages (default: the segment's standard
  // name from its timeline and address). Offsets in messages are offsets within the segment.
  void set_file_name(std::string name);

  // Decodes `bytes`, the next bytes of the stream, calling `sink` for each complete record.
  Result<void> feed(std::span<const uint8_t> bytes, const RecordSink& sink);
  // The input is over: kCorruption when it stops inside a page or a record (a truncated
  // segment, or a record continued in a segment that was not fed), unless the WAL ended.
  Result<void> finish() const;

  bool ended() const { return ended_; }
  // Known once the first page header is read.
  int major() const { return major_; }
  uint32_t page_size() const { return page_size_; }
  uint32_t segment_size() const { return segment_size_; }
  uint64_t system_id() const { return system_id_; }
  wal::TimelineId timeline() const { return timeline_; }
  uint64_t bytes_fed() const { return stream_offset_; }
  uint64_t records_decoded() const { return records_; }
  // The LSN just past the last decoded record.
  wal::Lsn end_lsn() const { return end_lsn_; }

 private:
  Result<void> read_first_header();
  Result<void> process_page(const RecordSink& sink);
  Result<void> check_page_header(size_t& header_size, uint16_t& info, uint32_t& rem_len);
  Result<void> append_to_record(std::span<const uint8_t> bytes);
  // Appends page[pos, pos + n) to the record being assembled and advances pos; when that
  // completes the record, hands it to the sink and aligns pos to the next record. False when
  // nothing more is to be read on this page (the record continues, or XLOG_SWITCH).
  Result<bool> take_record_bytes(std::span<const uint8_t> page, size_t& pos, size_t n,
                                 const RecordSink& sink);
  Result<void> complete_record(wal::Lsn end, const RecordSink& sink);
  tl::unexpected<Error> fail(wal::Lsn at, const std::string& what);
  std::string location(wal::Lsn at) const;
  std::string name_of(wal::Lsn at) const;

  std::string file_name_;
  std::optional<uint64_t> named_segment_;  // the segment file_name_ names
  wal::Lsn first_lsn_;
  std::optional<Error> failed_;
  bool ended_ = false;
  // From the first page.
  int major_ = 0;
  uint16_t magic_ = 0;
  uint32_t page_size_ = 0;
  uint32_t segment_size_ = 0;
  uint64_t system_id_ = 0;
  wal::TimelineId timeline_;
  // The page being filled, and the address of that page.
  std::vector<uint8_t> page_;
  size_t page_fill_ = 0;
  wal::Lsn page_lsn_;
  bool first_page_ = true;
  uint64_t stream_offset_ = 0;
  // The record being assembled.
  std::vector<uint8_t> record_;
  wal::Lsn record_lsn_;
  uint32_t record_length_ = 0;  // 0: none in progress
  // Bytes of a record continued from before the stream still to skip.
  uint32_t skip_continuation_ = 0;
  bool skip_to_segment_end_ = false;
  std::optional<wal::Lsn> prev_lsn_;
  wal::Lsn end_lsn_;
  uint64_t records_ = 0;
};

}  // namespace pgm::xlog
