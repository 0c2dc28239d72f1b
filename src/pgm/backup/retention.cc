#include "pgm/backup/retention.h"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace pgm::backup {
namespace {

namespace chr = std::chrono;

constexpr std::int64_t kSecondsPerDay = std::int64_t{24} * 60 * 60;

// A rule counts only when set to a positive value.
int active(const std::optional<int>& field) { return field.value_or(0) > 0 ? *field : 0; }

// The calendar date of `t` in the process time zone.
chr::year_month_day local_date(chr::system_clock::time_point t) {
  const time_t secs = chr::system_clock::to_time_t(chr::floor<chr::seconds>(t));
  struct tm tm {};
  localtime_r(&secs, &tm);
  return chr::year{tm.tm_year + 1900} / chr::month{static_cast<unsigned>(tm.tm_mon + 1)} /
         chr::day{static_cast<unsigned>(tm.tm_mday)};
}

// The Monday starting the week that contains `date`.
chr::sys_days monday_of(chr::sys_days date) {
  const chr::weekday wd{date};
  return date - chr::days{wd.iso_encoding() - 1};
}

std::int64_t month_index(const chr::year_month_day& d) {
  return static_cast<std::int64_t>(static_cast<int>(d.year())) * 12 +
         static_cast<unsigned>(d.month()) - 1;
}

}  // namespace

const char* retention_reason_name(RetentionReason reason) {
  switch (reason) {
    case RetentionReason::kKeepFlag:
      return "keep";
    case RetentionReason::kHasChild:
      return "child";
    case RetentionReason::kFuture:
      return "future";
    case RetentionReason::kDays:
      return "days";
    case RetentionReason::kWeeks:
      return "weeks";
    case RetentionReason::kMonths:
      return "months";
    case RetentionReason::kYears:
      return "years";
  }
  return "unknown";
}

RetentionDecision evaluate_retention(std::vector<RetentionBackup> backups,
                                     const RetentionPolicy& policy,
                                     chr::system_clock::time_point now) {
  std::sort(backups.begin(), backups.end(), [](const auto& a, const auto& b) {
    return std::tie(a.time, a.label) < std::tie(b.time, b.label);
  });

  const int days = active(policy.days);
  const int weeks = active(policy.weeks);
  const int months = active(policy.months);
  const int years = active(policy.years);
  const bool enabled = days > 0 || weeks > 0 || months > 0 || years > 0;

  const chr::year_month_day today = local_date(now);
  const chr::sys_days today_days{today};
  const chr::sys_days this_monday = monday_of(today_days);

  // Per calendar rule, the latest valid backup of each qualifying day (later ones overwrite).
  std::map<chr::sys_days, std::size_t> weekly;
  std::map<chr::sys_days, std::size_t> monthly;
  std::map<chr::sys_days, std::size_t> yearly;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const RetentionBackup& b = backups[i];
    if (!b.valid || b.time > now) {
      continue;
    }
    const chr::year_month_day date = local_date(b.time);
    const chr::sys_days date_days{date};
    if (weeks > 0 && chr::weekday{date_days} == chr::Monday) {
      const std::int64_t back = (this_monday - date_days).count() / 7;
      if (back >= 0 && back < weeks) {
        weekly[date_days] = i;
      }
    }
    if (months > 0 && date.day() == chr::day{1}) {
      const std::int64_t back = month_index(today) - month_index(date);
      if (back >= 0 && back < months) {
        monthly[date_days] = i;
      }
    }
    if (years > 0 && date.month() == chr::January && date.day() == chr::day{1}) {
      const std::int64_t back =
          static_cast<std::int64_t>(static_cast<int>(today.year())) - static_cast<int>(date.year());
      if (back >= 0 && back < years) {
        yearly[date_days] = i;
      }
    }
  }

  std::vector<std::vector<RetentionReason>> reasons(backups.size());
  const auto mark = [&](const std::map<chr::sys_days, std::size_t>& chosen, RetentionReason r) {
    for (const auto& [date, index] : chosen) {
      reasons[index].push_back(r);
    }
  };

  for (std::size_t i = 0; i < backups.size(); ++i) {
    const RetentionBackup& b = backups[i];
    if (b.keep) {
      reasons[i].push_back(RetentionReason::kKeepFlag);
    }
    if (b.time > now) {
      reasons[i].push_back(RetentionReason::kFuture);
    } else if (b.valid && days > 0 &&
               chr::floor<chr::seconds>(now - b.time).count() <
                   static_cast<std::int64_t>(days) * kSecondsPerDay) {
      reasons[i].push_back(RetentionReason::kDays);
    }
  }
  mark(weekly, RetentionReason::kWeeks);
  mark(monthly, RetentionReason::kMonths);
  mark(yearly, RetentionReason::kYears);

  // The ancestors of every protected backup: a kept incremental must still restore. Walked
  // newest first; a walk stops at a backup already marked, whose ancestors a walk before
  // marked (so each backup is visited once, and a damaged parent cycle ends too).
  std::map<std::string, std::size_t> by_label;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    by_label.emplace(backups[i].label, i);
  }
  std::vector<bool> ancestor(backups.size(), false);
  for (std::size_t i = backups.size(); i-- > 0;) {
    if (reasons[i].empty() && !ancestor[i]) {
      continue;
    }
    for (auto at = by_label.find(backups[i].parent); at != by_label.end() && !ancestor[at->second];
         at = by_label.find(backups[at->second].parent)) {
      ancestor[at->second] = true;
    }
  }
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (ancestor[i]) {
      auto& r = reasons[i];
      r.insert(std::upper_bound(r.begin(), r.end(), RetentionReason::kHasChild),
               RetentionReason::kHasChild);
    }
  }

  RetentionDecision decision;
  std::vector<bool> candidate(backups.size(), false);
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (!reasons[i].empty()) {
      decision.kept.push_back({backups[i].label, std::move(reasons[i])});
    } else if (enabled) {
      decision.candidates.push_back(backups[i].label);
      candidate[i] = true;
    }
  }
  // A candidate that is a candidate's parent waits for its child: leaves go first.
  std::vector<bool> has_candidate_child(backups.size(), false);
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (auto p = by_label.find(backups[i].parent); candidate[i] && p != by_label.end()) {
      has_candidate_child[p->second] = true;
    }
  }
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (candidate[i] && !has_candidate_child[i]) {
      decision.to_delete = backups[i].label;
      break;
    }
  }
  return decision;
}

}  // namespace pgm::backup
