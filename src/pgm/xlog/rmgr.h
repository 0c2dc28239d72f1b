// Resource managers: their names as pg_waldump prints them, the name of each record type, and a
// one-line description of a record in pg_waldump's wording where we have one. Pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "pgm/xlog/record.h"

namespace pgm::xlog {

// "Heap", "Btree", ... for the built-in ids 0..21; "custom<id>" for 128..255; "" otherwise.
std::string rmgr_name(uint8_t rmid);
// The record type's name (pg_waldump's identify function), e.g. "INSERT+INIT", "COMMIT",
// "CHECKPOINT_ONLINE", for WAL written by `major`; "UNKNOWN" when the type is not one we know.
std::string record_type_name(uint8_t rmid, uint8_t info, int major);
// The record type name followed by what pg_waldump 15 prints for the record, for the types we
// describe in detail: Transaction commit and abort (15+; timestamps in UTC, where
// pg_waldump uses its local zone), Standby invalidations, XLOG checkpoints, NEXTOID,
// PARAMETER_CHANGE, BACKUP_END; Storage create and truncate (default and global tablespaces); Heap
// insert, delete, update, lock, inplace, confirm, truncate; Heap2 prune, vacuum, freeze, visible,
// multi-insert, lock-updated, new-cid; Btree inserts, splits, dedup, delete, vacuum, newroot;
// Standby locks and running xacts; Database (15+), Sequence, RelMap, Tablespace drop,
// ReplicationOrigin, LogicalMessage, Hash insert. The name alone for the others, and for a main
// data too short for its fields. 16 and later reworded several of these in pg_waldump; the words
// here are 15's.
std::string describe(const Record& record, int major);
// "base/5/16384", "global/1262", "pg_tblspc/16400/.../16384" (the per-version directory left
// out), with "_fsm", "_vm", "_init" for the other forks.
std::string relation_path(const RelLocator& rel, uint8_t fork);
// pg_waldump's fork names: "main", "fsm", "vm", "init".
const char* fork_name(uint8_t fork);

}  // namespace pgm::xlog
