// WAL summaries of each server (issue 17, point 4; docs/wal.md "WAL summaries").
//
// write_wal_summaries() runs in the probe child after the probe (it blocks on disk). For each
// complete stored segment not summarized yet it writes <base_dir>/<server>/summaries/<range>
// .summary (walsummary/summary_file.h): which blocks of which relation forks the records
// starting in that segment changed, by the rules of PostgreSQL 17's walsummarizer. A segment
// is summarized once the segment after it (same timeline) is stored, since its last record
// may end there. Progress is what the directory holds: the first segment to summarize is the
// one after the newest summary (on the first run, the oldest valid backup's first segment, or
// the oldest segment stored). A segment that cannot be summarized (damaged, or a record a
// summary cannot follow) is skipped with a warning, leaving a gap in the ranges that readers
// must treat as "unknown". Summaries of segments no longer stored are removed.
#pragma once

#include <cstddef>

#include "pgm/daemon/context.h"

namespace pgm::daemon {

void write_wal_summaries(const DaemonContext& ctx, size_t index);

}  // namespace pgm::daemon
