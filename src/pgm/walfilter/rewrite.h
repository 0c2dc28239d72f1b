// The byte-level part of the walfilter: which records belong to the transactions to filter,
// the ABORT record that replaces a filtered transaction's COMMIT (same length, same LSN), and
// SegmentWindow, the plain segments held until written, where a record is overwritten in place
// across the page headers it spans. Pure functions over bytes; a SegmentWindow is used by one
// thread at a time.
//
// Why only the COMMIT is rewritten: the data records of a filtered transaction stay as they
// are, so every page replays to the same bytes and later records of other transactions (which
// chose their item offsets, and skipped full-page images, knowing those bytes) still apply.
// Without its commit the transaction is aborted at replay: its inserted tuples are invisible,
// its deleted or updated tuples keep their old version. docs/pgmoneta-walfilter.md says more.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"
#include "pgm/xlog/record.h"

namespace pgm::walfilter {

// A Transaction COMMIT record (not COMMIT PREPARED), as far as the filter needs it.
struct CommitInfo {
  uint32_t xid = 0;
  int64_t time = 0;  // xact_time, copied into the abort
  std::vector<uint32_t> subxacts;
};

// The COMMIT's parts (majors 13..18), nullopt for any other record; kCorruption when the
// main data is shorter than its flags announce.
Result<std::optional<CommitInfo>> parse_commit(const xlog::Record& record);

// A Heap DELETE record (rmgr Heap, XLOG_HEAP_DELETE) of a row of a user relation: its block's
// relfilenode is at least 16384 (FirstNormalObjectId: below are the system catalogs, whose rows
// DDL deletes), and it is neither the "super delete" of INSERT ON CONFLICT nor the delete half
// of an UPDATE that moves a row to another partition.
bool is_user_delete(const xlog::Record& record);

// The bytes of an ABORT record (with the commit's subtransactions) that takes the place of
// `commit`: same xl_tot_len, xl_xid and xl_prev, main data padded with zeros to that length,
// CRC-32C computed. kInvalidArgument when the length cannot be kept (never for a COMMIT
// PostgreSQL wrote).
Result<std::vector<uint8_t>> abort_in_place_of(const xlog::Record& commit, const CommitInfo& info);

// Plain segments (whole, or a .partial's written length), in stream order, held until taken.
class SegmentWindow {
 public:
  struct Segment {
    std::string name;  // the file name to write in the target directory
    wal::Lsn start;    // from its first page header
    std::vector<uint8_t> bytes;
  };

  explicit SegmentWindow(uint32_t page_size) : page_size_(page_size) {}

  // Adds the next segment; its first page must carry a long header (kCorruption naming it).
  Result<void> add(std::string name, std::vector<uint8_t> bytes);
  // Replaces the record that starts at `lsn`, whose bytes are `original`, with `replacement`
  // (same length): written around the page headers of the pages and segments it spans, which
  // are left untouched. kCorruption when the held bytes are not `original` (or not held).
  Result<void> overwrite(wal::Lsn lsn, std::span<const uint8_t> original,
                         std::span<const uint8_t> replacement);
  // Removes and returns the segments that end at or before `lsn` (all when nullopt).
  std::vector<Segment> take_before(std::optional<wal::Lsn> lsn);
  bool empty() const { return segments_.empty(); }

 private:
  // The held segment and offset of `lsn`, nullptr when not held.
  Segment* find(wal::Lsn lsn, size_t& offset);

  uint32_t page_size_;
  std::vector<Segment> segments_;
};

}  // namespace pgm::walfilter
