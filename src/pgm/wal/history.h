// Timeline history files ("<tli>.history"): parsing and switch-point lookup. Pure, thread-safe.
//
// Each data line reads "<parent tli>\t<switch lsn X/X>\t<reason>": the parent timeline ended
// at the switch LSN and the next one began there. Lines starting with '#' (after optional
// white space) and blank lines are ignored. Timelines must be strictly increasing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"

namespace pgm::wal {

struct HistoryEntry {
  TimelineId tli;  // the timeline that ended
  Lsn end;         // where it ended: the first byte belonging to the next timeline
  std::string reason;
  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

// Parses a history file's contents. A malformed line -> kCorruption "line N: ...".
Result<std::vector<HistoryEntry>> parse_history(std::string_view contents);

// Where `tli` ended according to `entries`; nullopt when it did not end there (it is the
// newest timeline, or unknown to this history).
std::optional<Lsn> switch_point(const std::vector<HistoryEntry>& entries, TimelineId tli);

// The timeline that was current at `lsn` for a history whose newest timeline is `newest`.
TimelineId timeline_at(const std::vector<HistoryEntry>& entries, TimelineId newest, Lsn lsn);

}  // namespace pgm::wal
