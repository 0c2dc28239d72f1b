// The restore position: the optional third argument of
// `pgmoneta-cli restore <server> <id> [position] <dir>`, its parser, and the automatic choice of
// the backup a positioned restore starts from. Pure functions; value types are
// thread-compatible.
//
// Grammar (reference §2, restore row): a comma-separated list of words, each trimmed of
// surrounding spaces; empty words are rejected, keywords are case-insensitive:
//   current | immediate | name=X | xid=X | lsn=X | time=X     recovery target (at most one)
//   inclusive=on|off|true|false|yes|no|1|0                    recovery_target_inclusive
//   timeline=latest|current|N                                 recovery_target_timeline
//   action=pause|promote|shutdown                             recovery_target_action
//   primary | replica                                         recovery.signal | standby.signal
//   <guc>=X                                                   any other setting, passed through
// A pass-through key must look like a PostgreSQL setting name ([a-z_][a-z0-9_.]*, any case) and
// must not be one the words above generate (recovery_target*, standby_mode); restore_command,
// primary_conninfo and primary_slot_name may be overridden on purpose. No value may hold a
// newline or NUL; quotes are fine (recovery.h quotes when writing).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgm/backup/repository.h"
#include "pgm/core/result.h"

namespace pgm::restore {

enum class TargetKind { kNone, kCurrent, kImmediate, kName, kXid, kLsn, kTime };
enum class Mode { kPrimary, kReplica };

struct Position {
  TargetKind target = TargetKind::kNone;
  std::string value;                                          // name/xid/lsn/time text (trimmed)
  std::optional<uint64_t> lsn;                                // parsed for kLsn
  std::optional<uint64_t> xid;                                // parsed for kXid (decimal, > 0)
  std::optional<std::chrono::system_clock::time_point> time;  // parsed for kTime
  std::optional<bool> inclusive;                              // on/off/true/false/yes/no/1/0
  std::string timeline;  // "latest", "current" or a positive decimal; "" = unset
  std::string action;    // pause|promote|shutdown; "" = unset
  Mode mode = Mode::kPrimary;
  std::vector<std::pair<std::string, std::string>> extra;  // pass-through, in order, key as given
  bool wants_wal() const { return target != TargetKind::kNone; }  // copy archived WAL?
};

// Parses a position. Empty or all-space text gives the default Position (kNone, primary).
// Errors are kInvalidArgument "position: ..." naming the offending word and what is allowed:
// an unknown word, an empty word, a duplicate key, more than one recovery target, primary with
// replica, a malformed lsn/xid/time/inclusive/timeline/action value, a reserved or malformed
// pass-through key, a newline in a value.
Result<Position> parse_position(std::string_view text);

// A recovery_target_time as a DBA types it: "YYYY-MM-DD HH:MM:SS" ('T' may replace the space),
// optional fraction ".f" to ".ffffff", optional zone after optional spaces: "Z", "UTC", "+HH",
// "-HH", "+HH:MM", "+HHMM". Without a zone the time is local to this machine. kInvalidArgument
// naming the problem for anything else, including impossible dates (2026-02-30).
Result<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

// The backup a restore starts from. `id` is a label or oldest/newest/latest. With newest or
// latest (valid backups only):
//   lsn=X  -> the newest backup whose end LSN <= X (PostgreSQL refuses a target before the
//             backup's consistency point, so the end, not the start, is the bound);
//   time=X -> the newest backup whose end time (label time + elapsed) <= X;
//   timeline=N (a number, no lsn/time target) -> the newest backup with start timeline N.
// Otherwise backup::resolve_backup(entries, id, server). With a label (or oldest) and an
// lsn/time target before that backup's end: kInvalidArgument "restore target lsn=... is before
// the end of backup L ...". Nothing qualifies: kNotFound "no valid backup of server S ends
// before lsn=X ...". The pointer borrows from `entries`; `server` only names it in messages.
Result<const backup::BackupEntry*> select_backup(const std::vector<backup::BackupEntry>& entries,
                                                 std::string_view id, const Position& position,
                                                 std::string_view server);

}  // namespace pgm::restore
