// summarize_record(): what one decoded WAL record changes in relation files, added to a
// BlockRefTable by the rules of PostgreSQL 17's walsummarizer (src/backend/postmaster/
// walsummarizer.c, public), for WAL of PostgreSQL 13 to 18:
//   - every block reference marks its block changed, except in the free space map (not fully
//     WAL-logged; PostgreSQL's incremental backup copies it whole);
//   - Storage CREATE: limit 0 on the created fork (not the FSM);
//   - Storage TRUNCATE: with the heap flag, limit at the new length on the main fork; with the
//     visibility-map flag, limit on the VM fork at the VM length that covers the new heap
//     length (and, as incremental.md adds, the VM page holding the cut is marked changed: its
//     tail is cleared without WAL when hint bits are not logged);
//   - Database CREATE (both strategies; the one CREATE before 15) and DROP (each tablespace):
//     limit 0 on (tablespace, database, 0) main fork, the whole database;
//   - Transaction COMMIT/ABORT and their PREPARED forms: limit 0 on every fork but the FSM of
//     each relation dropped by the transaction.
// A record of a resource manager that is not built in (a custom one, 15+) whose header flag
// says it changes relation files without block references (XLR_SPECIAL_REL_UPDATE) is an
// error: the summary would be incomplete, and the caller must not use it (fail safe). RelMap's
// records carry the flag too; pg_filenode.map is copied whole by every backup. Pure; thread-safe on
// distinct tables.
#pragma once

#include "pgm/core/result.h"
#include "pgm/walsummary/block_ref_table.h"
#include "pgm/xlog/record.h"

namespace pgm::walsummary {

// The VM fork's length in blocks that covers `heap_blocks` heap blocks (8 kB pages: 32,672
// heap blocks a VM page): what visibilitymap_truncation_length() returns.
uint32_t vm_truncation_length(uint32_t heap_blocks);

struct Rules {
  // Mark the VM page holding a truncation point changed (our rule beyond PostgreSQL's; off only
  // to compare with PostgreSQL's own summaries).
  bool vm_cut_page = true;
};

// Adds what `record`, written by PostgreSQL `major`, changes to `table`. kCorruption when a
// record we must understand is too short; kUnavailable for a record that changes relation
// files in a way we cannot see (above).
Result<void> summarize_record(const xlog::Record& record, int major, BlockRefTable& table,
                              const Rules& rules = {});

}  // namespace pgm::walsummary
