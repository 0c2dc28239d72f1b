// The chain of an incremental backup: its parent, the parent's parent, ... down to the full
// backup it rests on, each checked as pg_combinebackup checks its inputs before anything is
// restored from them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"

namespace pgm::restore {

struct ChainMember {
  std::string dir;  // <root>/<label>
  backup::BackupInfo info;
};

// The ancestors of the backup described by `info` (stored in <root>/<info.label>), newest
// first, ending with a full backup; empty for a full backup. kCorruption naming the link
// that breaks: a parent that is missing, not valid, taken from another PostgreSQL major
// version, or whose start is not the child's INCREMENTAL FROM LSN/TLI (from the child's
// data/backup_label), or a chain that loops.
Result<std::vector<ChainMember>> resolve_chain(const std::string& root,
                                               const backup::BackupInfo& info);

// INCREMENTAL FROM LSN and TLI of a backup_label; kCorruption when either is absent or
// malformed.
struct IncrementalFrom {
  uint64_t lsn = 0;
  uint32_t timeline = 0;
};
Result<IncrementalFrom> parse_incremental_from(std::string_view backup_label);

// backup_label without its INCREMENTAL FROM lines: what a restored data directory holds
// (PostgreSQL refuses to start on a label that has them).
std::string strip_incremental_from(std::string_view backup_label);
// Only the INCREMENTAL FROM lines of a backup_label, as they are.
std::string incremental_from_lines(std::string_view backup_label);

}  // namespace pgm::restore
