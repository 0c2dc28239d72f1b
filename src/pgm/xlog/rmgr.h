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
// The record type name followed by what pg_waldump's description of the record says, for the
// record types we describe in detail (heap insert/delete/update/lock, multi-insert, visible,
// btree inserts, XLOG nextoid, storage create/truncate, sequence, running xacts); the name alone
// for the others. Reads the main data defensively: a short one gives the name alone.
std::string describe(const Record& record, int major);
// "base/5/16384", "global/1262", "pg_tblspc/16400/.../16384" (the per-version directory left
// out), with "_fsm", "_vm", "_init" for the other forks.
std::string relation_path(const RelLocator& rel, uint8_t fork);
// pg_waldump's fork names: "main", "fsm", "vm", "init".
const char* fork_name(uint8_t fork);

}  // namespace pgm::xlog
