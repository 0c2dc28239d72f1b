// Record and BlockRef: one decoded WAL record, and parse_record(), the pure function that
// splits a record's bytes into its parts. Value types, thread-safe; a Record's spans borrow the
// bytes it was parsed from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"

namespace pgm::xlog {

// RelFileLocator (RelFileNode before 16): tablespace, database, relation file number.
struct RelLocator {
  uint32_t spc = 0;
  uint32_t db = 0;
  uint32_t rel = 0;
  friend bool operator==(const RelLocator&, const RelLocator&) = default;
};

enum class ImageCompression : uint8_t { kNone, kPglz, kLz4, kZstd };
const char* image_compression_name(ImageCompression compression);  // "none", "pglz", ...

struct BlockRef {
  uint8_t id = 0;  // 0..32
  RelLocator rel;
  uint8_t fork = 0;  // 0 main, 1 fsm, 2 vm, 3 init
  uint32_t block = 0;
  bool will_init = false;
  bool has_image = false;
  bool apply_image =
      false;  // the image is restored at replay (not only kept for consistency checks)
  uint16_t image_length = 0;  // bytes of image stored in the record (compressed or not)
  uint16_t hole_offset = 0;
  uint16_t hole_length = 0;
  ImageCompression compression = ImageCompression::kNone;
  uint16_t data_length = 0;
  std::span<const uint8_t> image;  // image_length bytes
  std::span<const uint8_t> data;   // data_length bytes
};

struct Record {
  wal::Lsn lsn;               // where the record header starts
  wal::Lsn end_lsn;           // just past its last byte (a switch record: the end of its segment)
  wal::Lsn prev;              // xl_prev
  uint32_t total_length = 0;  // xl_tot_len, headers and images included
  uint32_t xid = 0;
  uint8_t rmid = 0;
  uint8_t info = 0;  // xl_info, all eight bits
  uint32_t crc = 0;
  std::vector<BlockRef> blocks;
  std::span<const uint8_t> main_data;
  std::optional<uint16_t> origin;        // replication origin
  std::optional<uint32_t> toplevel_xid;  // 14+: the subtransaction's top-level xid
  std::span<const uint8_t> bytes;        // the whole record, header first

  // xl_info without the bits the WAL machinery uses: the rmgr's record type.
  uint8_t record_type() const;
  // Sum of image_length over the blocks (what pg_waldump calls the FPI length).
  uint32_t image_bytes() const;
};

// Splits `bytes` (one whole record: xl_tot_len bytes, header first) written by PostgreSQL
// `major` into its parts; lsn, end_lsn are left for the caller. Checks lengths and flags as
// PostgreSQL's reader does; the CRC is the caller's (record_crc_ok). kCorruption naming the
// problem, never a read outside `bytes`.
Result<Record> parse_record(std::span<const uint8_t> bytes, int major);
// The record's stored CRC equals the CRC-32C of its bytes; `bytes` is the whole record.
bool record_crc_ok(std::span<const uint8_t> bytes);
// The CRC-32C PostgreSQL would store for `bytes` (its xl_crc field is ignored).
uint32_t compute_record_crc(std::span<const uint8_t> bytes);

}  // namespace pgm::xlog
