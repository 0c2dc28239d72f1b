// How pgmoneta-walinfo prints records: pg_waldump's line for -F raw, pgmoneta's JSON document
// for -F json. RecordPrinter is not thread-safe (one per output stream); the functions are pure.
//
// Raw, one line per record, as pg_waldump 15 prints it (StartLSN is the record's own LSN):
//   rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/01A2B3C4,
//   prev 0/01A2B380, desc: INSERT off: 3, flags: 0x08, blkref #0: rel 1663/5/16384 blk 0
// JSON, pgmoneta's keys and types (LSNs as numbers), streamed record by record:
//   {"WAL": [{"Record": {"ResourceManager": "Heap", "RecordLength": 54, "TotalLength": 54,
//   "Xid": 735, "Info": 0, "StartLSN": 27446212, "EndLSN": 27446272, "ResourceManagerId": 10,
//   "Crc": 123, "Data": "INSERT off: 3, flags: 0x08", "Description": "blkref #0: rel
//   1663/5/16384 fork main blk 0"}}, ...]}
// "Data" is the record's description, "Description" its block references in pg_waldump's
// detailed (-b) wording. With a mapping (-t), "rel spc/db/rel" is written with names.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "pgm/walinfo/options.h"
#include "pgm/xlog/record.h"

namespace pgm::walinfo {

class OidMapping;

// ", blkref #0: rel 1663/5/16384 blk 0 FPW" (pg_waldump's default wording); "" without blocks.
std::string block_refs_short(const xlog::Record& record);
// "blkref #0: rel 1663/5/16384 fork main blk 0 (FPW); hole: offset: 40, length: 7744" ...
// (pg_waldump -b's wording, blocks separated by a blank).
std::string block_refs_detailed(const xlog::Record& record);
// The raw line without its newline; `description` is describe()'s text. ANSI colors when
// `color`: the header red, the description green, the block references blue.
std::string raw_line(const xlog::Record& record, std::string_view description, bool color,
                     const OidMapping* translate);
// The {"Record": {...}} object of one record, compact JSON.
std::string json_record(const xlog::Record& record, std::string_view description,
                        const OidMapping* translate);

class RecordPrinter {
 public:
  // `out` is borrowed and must outlive the printer; `translate` may be null (no -t).
  RecordPrinter(std::ostream& out, Format format, bool color, const OidMapping* translate);
  void begin();  // JSON: opens the document
  void print(const xlog::Record& record, std::string_view description);
  void end();  // JSON: closes it (also after an error, so what was printed stays valid JSON)
  uint64_t printed() const { return printed_; }

 private:
  std::ostream& out_;
  Format format_;
  bool color_;
  const OidMapping* translate_;
  uint64_t printed_ = 0;
  bool begun_ = false;
};

}  // namespace pgm::walinfo
