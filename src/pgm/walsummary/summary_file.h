// WAL summary files: one BlockRefTable for one range of one timeline's WAL, on disk.
// Pure encoding functions plus a durable writer and a checked reader; thread-safe.
//
// Name: TTTTTTTTHHHHHHHHLLLLLLLLHHHHHHHHLLLLLLLL.summary (timeline, start LSN, end LSN in hex,
// as PostgreSQL 17 names its own in pg_wal/summaries). Layout, integers little-endian:
//   magic "PGMWSUM1" (8), timeline u32, PostgreSQL major u32, start LSN u64, end LSN u64,
//   number of forks u32; per fork in key order: tablespace u32, database u32, relation u32,
//   fork u8, limit block u32 (0xFFFFFFFF: none), number of blocks u32, then the blocks as
//   unsigned LEB128 gaps (the first from 0, each next one from the previous block + 1);
//   finally the CRC-32C of everything before it, u32.
// A million changed blocks in runs take about a megabyte; scattered ones two to three.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"
#include "pgm/walsummary/block_ref_table.h"

namespace pgm::walsummary {

struct SummaryRange {
  uint32_t timeline = 0;
  wal::Lsn start;  // the first record summarized starts here
  wal::Lsn end;    // the last one ends here
  int major = 0;   // the PostgreSQL major that wrote the WAL
};

struct WalSummary {
  SummaryRange range;
  std::map<ForkKey, ForkChanges> forks;
};

std::string summary_file_name(const SummaryRange& range);
// The timeline, start and end of a name summary_file_name() made (major left 0); nullopt for
// any other name (a temporary file, a stray one).
std::optional<SummaryRange> parse_summary_file_name(std::string_view name);
std::vector<uint8_t> encode_summary(const SummaryRange& range,
                                    const std::map<ForkKey, ForkChanges>& forks);
// kCorruption naming `name` and what is wrong (magic, CRC, a count past the end, blocks out
// of order or past the limit).
Result<WalSummary> decode_summary(std::span<const uint8_t> bytes, const std::string& name);

// Writes `dir`/summary_file_name(range) durably (temporary name, fsync, rename, fsync of the
// directory); returns its path.
Result<std::string> write_summary_file(const std::string& dir, const SummaryRange& range,
                                       BlockRefTable& table);
Result<WalSummary> read_summary_file(const std::string& path);

}  // namespace pgm::walsummary
