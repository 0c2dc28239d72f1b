// Retention rules: decides which backups of one server a retention pass may delete. A pure
// function of its inputs (backups, policy, now) plus the process time zone; it touches no disk
// and deletes nothing. Thread-safe as long as nobody changes TZ concurrently.
//
// Rules (each one only adds protection; an unset or non-positive field imposes nothing):
// * days D:   keep every backup whose time is strictly newer than now - D * 24 h. The window is
//             absolute time, not wall-clock time: across a DST change the cutoff's local clock
//             reading differs from now's by one hour. A backup exactly at now - D * 24 h is NOT
//             kept by this rule.
// * weeks W:  weeks start on Monday. The week containing now's local date is week 1, the week
//             before it week 2, ..., up to week W. For each such week, keep the latest backup whose
//             local date is that week's Monday (the other backups of that Monday are not kept by
//             this rule).
// * months M: the month containing now's local date is month 1, the previous one month 2, ...,
//             up to month M. For each, keep the latest backup whose local date is the 1st.
// * years Y:  the current year is year 1, ..., up to year Y. For each, keep the latest backup
//             whose local date is 1 January.
// "Local date" is the calendar date of the backup's time in the process time zone (labels are
// local YYYYMMDDHHMMSS); time zone rules, DST included, come from localtime_r. Call tzset()
// after changing TZ. A backup at 00:30 on a DST-change Monday is on that Monday.
//
// Always protected, whatever the policy: keep=true (retain) and backups newer than now (clock
// skew; a time we cannot judge). A chain is never broken: every ancestor (`parent`, its parent,
// ...) of a protected backup is protected too (reason "child"), so a kept incremental always
// restores. A chain nothing protects any more expires whole.
// Invalid backups (valid=false) never satisfy a rule, so they are candidates even inside the
// days window, and they do not take a Monday/1st slot from a valid backup of the same day. The
// caller must leave a backup still being written out of the input.
// If all four fields are unset, retention is off: no candidates, nothing deleted.
//
// One pass deletes at most one backup: the oldest candidate that no other candidate names as its
// parent (ties broken by label), so an expired chain goes newest link first and no deletion
// ever has to roll a parent into its child. Running passes until to_delete is empty converges
// to the set the rules keep.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgm::backup {

// The retention setting of one server, each field already falling back to the global one.
struct RetentionPolicy {
  std::optional<int> days = std::nullopt;
  std::optional<int> weeks = std::nullopt;
  std::optional<int> months = std::nullopt;
  std::optional<int> years = std::nullopt;
};

struct RetentionBackup {
  std::string label;  // identifies the backup; not parsed
  std::chrono::system_clock::time_point time;
  bool keep = false;        // retain flag
  std::string parent = {};  // the label of an incremental's parent; "" for a full backup
  bool valid = true;
};

enum class RetentionReason { kKeepFlag, kHasChild, kFuture, kDays, kWeeks, kMonths, kYears };

// "keep", "child", "future", "days", "weeks", "months", "years".
const char* retention_reason_name(RetentionReason reason);

struct RetentionKept {
  std::string label;
  std::vector<RetentionReason> reasons;  // in enum order, never empty
};

struct RetentionDecision {
  std::vector<RetentionKept> kept;       // protected backups, oldest first
  std::vector<std::string> candidates;   // deletable labels, oldest first
  std::optional<std::string> to_delete;  // the oldest candidate without a candidate child
};

// Evaluates one retention pass. `backups` may come in any order.
RetentionDecision evaluate_retention(std::vector<RetentionBackup> backups,
                                     const RetentionPolicy& policy,
                                     std::chrono::system_clock::time_point now);

}  // namespace pgm::backup
