#include "pgm/backup/retention.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::backup {
namespace {

namespace chr = std::chrono;
using TimePoint = chr::system_clock::time_point;
using LabelSet = std::set<std::string>;

// Sets TZ for the test's lifetime and restores the previous value.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    const char* old = getenv("TZ");  // NOLINT(concurrency-mt-unsafe): tests are single-threaded
    if (old != nullptr) {
      old_ = old;
    }
    setenv("TZ", tz, 1);  // NOLINT(concurrency-mt-unsafe)
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
      unsetenv("TZ");  // NOLINT(concurrency-mt-unsafe)
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> old_;
};

// The instant of a local YYYYMMDDHHMMSS label in the current time zone.
TimePoint at(const std::string& label) {
  struct tm tm {};
  EXPECT_EQ(std::sscanf(label.c_str(), "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
            6)
      << label;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  return chr::system_clock::from_time_t(mktime(&tm));
}

struct Spec {
  std::string label;
  bool keep = false;
  std::string parent = {};
  bool valid = true;
};

std::vector<RetentionBackup> make_backups(const std::vector<Spec>& specs) {
  std::vector<RetentionBackup> out;
  out.reserve(specs.size());
  for (const Spec& s : specs) {
    out.push_back({s.label, at(s.label), s.keep, s.parent, s.valid});
  }
  return out;
}

LabelSet kept_labels(const RetentionDecision& d) {
  LabelSet out;
  for (const RetentionKept& k : d.kept) {
    out.insert(k.label);
  }
  return out;
}

std::vector<RetentionReason> reasons_of(const RetentionDecision& d, const std::string& label) {
  for (const RetentionKept& k : d.kept) {
    if (k.label == label) {
      return k.reasons;
    }
  }
  return {};
}

struct Case {
  const char* name;
  const char* tz;
  const char* now;
  RetentionPolicy policy;
  std::vector<Spec> backups;
  LabelSet kept;
  std::vector<std::string> candidates;                  // oldest first
  std::optional<std::string> to_delete = std::nullopt;  // candidates.front() when unset
};

class RetentionRulesTest : public testing::TestWithParam<Case> {};

TEST_P(RetentionRulesTest, KeepsAndOffersExactlyTheExpectedBackups) {
  const Case& c = GetParam();
  ScopedTimeZone tz(c.tz);
  const RetentionDecision d = evaluate_retention(make_backups(c.backups), c.policy, at(c.now));
  EXPECT_EQ(kept_labels(d), c.kept);
  EXPECT_EQ(d.candidates, c.candidates);
  if (c.candidates.empty()) {
    EXPECT_FALSE(d.to_delete.has_value());
  } else {
    EXPECT_EQ(d.to_delete, c.to_delete.value_or(c.candidates.front()));
  }
}

std::vector<Case> rule_cases() {
  return {
      {"OnlyDays",
       "UTC",
       "20240610120000",
       {.days = 7},
       {{"20240601000000"},
        {"20240603120000"},  // exactly now - 7 days: not kept
        {"20240603120001"},
        {"20240605000000"},
        {"20240611000000"}},  // in the future: kept
       {"20240603120001", "20240605000000", "20240611000000"},
       {"20240601000000", "20240603120000"}},
      {"WeeksKeepLatestMondayBackupOfEachWeek",
       "UTC",
       "20240612100000",  // Wednesday; weeks = the ones of Mondays 06-10, 06-03, 05-27
       {.weeks = 3},
       {{"20240520120000"},  // Monday of a fourth week
        {"20240527235959"},
        {"20240603010000"},
        {"20240604010000"},  // Tuesday
        {"20240610080000"},
        {"20240610090000"},
        {"20240612090000"}},  // today, a Wednesday
       {"20240527235959", "20240603010000", "20240610090000"},
       {"20240520120000", "20240604010000", "20240610080000", "20240612090000"}},
      {"WeeksCountTodayWhenTodayIsMonday",
       "UTC",
       "20240610100000",
       {.weeks = 1},
       {{"20240603120000"}, {"20240610090000"}},
       {"20240610090000"},
       {"20240603120000"}},
      {"MonthsKeepLatestBackupOnTheFirst",
       "UTC",
       "20240615120000",  // months June, May, April
       {.months = 3},
       {{"20240301120000"},
        {"20240401120000"},
        {"20240501120000"},
        {"20240502120000"},
        {"20240531120000"},
        {"20240601010000"},
        {"20240601230000"}},
       {"20240401120000", "20240501120000", "20240601230000"},
       {"20240301120000", "20240502120000", "20240531120000", "20240601010000"}},
      {"MonthsCrossTheYearBoundary",
       "UTC",
       "20240210120000",  // months February, January, December 2023
       {.months = 3},
       {{"20231101120000"}, {"20231201120000"}, {"20240101120000"}},
       {"20231201120000", "20240101120000"},
       {"20231101120000"}},
      {"YearsKeepFirstOfJanuary",
       "UTC",
       "20240301120000",  // years 2024, 2023
       {.years = 2},
       {{"20220101120000"},
        {"20230101120000"},
        {"20230102120000"},
        {"20231231120000"},
        {"20240101120000"}},
       {"20230101120000", "20240101120000"},
       {"20220101120000", "20230102120000", "20231231120000"}},
      {"CombinedRulesAddUp",
       "UTC",
       "20240612120000",
       {.days = 2, .weeks = 2, .months = 2, .years = 1},
       {{"20240101120000"},  // years
        {"20240401120000"},  // Monday and 1st, but outside every window
        {"20240501120000"},  // months
        {"20240520120000"},  // Monday of week 4
        {"20240601120000"},  // months
        {"20240603120000"},  // weeks
        {"20240605120000"},
        {"20240610120000"},   // weeks (exactly now - 2 days)
        {"20240611120000"}},  // days
       {"20240101120000", "20240501120000", "20240601120000", "20240603120000", "20240610120000",
        "20240611120000"},
       {"20240401120000", "20240520120000", "20240605120000"}},
      {"KeepFlagProtects",
       "UTC",
       "20240610120000",
       {.days = 1},
       {{.label = "20240101120000", .keep = true},
        {"20240102120000"},
        {.label = "20240103120000", .keep = true, .valid = false}},
       {"20240101120000", "20240103120000"},
       {"20240102120000"}},
      {"AncestorsOfAKeptIncrementalProtected",
       "UTC",
       "20240610120000",
       {.days = 1},
       {{"20240101120000"},
        {.label = "20240102120000", .parent = "20240101120000"},
        {"20240103120000"},
        {.label = "20240610110000", .parent = "20240102120000"}},
       {"20240101120000", "20240102120000", "20240610110000"},
       {"20240103120000"}},
      {"AChainNothingKeepsExpiresWhole",
       "UTC",
       "20240610120000",
       {.days = 1},
       {{"20240101120000"},
        {.label = "20240102120000", .parent = "20240101120000"},
        {.label = "20240103120000", .parent = "20240102120000"},
        {"20240610110000"}},
       {"20240610110000"},
       {"20240101120000", "20240102120000", "20240103120000"},
       "20240103120000"},
      {"InvalidBackupsSatisfyNoRule",
       "UTC",
       "20240612120000",
       {.days = 7, .weeks = 1},
       {{"20240610080000"},
        {.label = "20240610090000", .valid = false},   // does not take the Monday slot
        {.label = "20240611120000", .valid = false}},  // inside the days window
       {"20240610080000"},
       {"20240610090000", "20240611120000"}},
      {"AllUnsetDeletesNothing",
       "UTC",
       "20240610120000",
       {},
       {{"20200101120000"}, {.label = "20210101120000", .valid = false}, {"20240610110000"}},
       {},
       {}},
      {"NonPositiveFieldsAreUnset",
       "UTC",
       "20240610120000",
       {.days = 0, .weeks = -1},
       {{"20200101120000"}, {"20240610110000"}},
       {},
       {}},
      {"DaysAreAbsoluteAcrossDst",  // 2024-03-31 Berlin moves from CET to CEST
       "Europe/Berlin",
       "20240403120000",  // 10:00 UTC; cutoff 2024-03-30 10:00 UTC = 11:00 CET
       {.days = 4},
       {{"20240330103000"}, {"20240330110000"}, {"20240330113000"}},
       {"20240330113000"},
       {"20240330103000", "20240330110000"}},
  };
}

INSTANTIATE_TEST_SUITE_P(Retention, RetentionRulesTest, testing::ValuesIn(rule_cases()),
                         [](const testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(RetentionTest, CalendarDatesFollowTheLocalTimeZone) {
  // 2024-03-31 22:30 UTC is Sunday in UTC and Monday 1 April 00:30 in Berlin.
  const TimePoint instant =
      chr::sys_days{chr::year{2024} / 3 / 31} + chr::hours{22} + chr::minutes{30};
  const TimePoint now = instant + chr::hours{48};
  const RetentionPolicy policy{.weeks = 1, .months = 1};
  const std::vector<RetentionBackup> backups = {{"b", instant}};
  {
    ScopedTimeZone tz("Europe/Berlin");
    const RetentionDecision d = evaluate_retention(backups, policy, now);
    EXPECT_EQ(reasons_of(d, "b"),
              (std::vector<RetentionReason>{RetentionReason::kWeeks, RetentionReason::kMonths}));
    EXPECT_TRUE(d.candidates.empty());
  }
  {
    ScopedTimeZone tz("UTC");
    const RetentionDecision d = evaluate_retention(backups, policy, now);
    EXPECT_TRUE(d.kept.empty());
    EXPECT_EQ(d.candidates, std::vector<std::string>{"b"});
  }
}

TEST(RetentionTest, ReportsEveryReason) {
  ScopedTimeZone tz("UTC");
  const RetentionDecision d =
      evaluate_retention(make_backups({{.label = "20240101120000", .keep = true},
                                       {"20240610120000"},
                                       {.label = "20240620120000", .parent = "20240101120000"}}),
                         {.days = 3, .weeks = 1, .months = 6, .years = 1}, at("20240611120000"));
  using R = RetentionReason;
  EXPECT_EQ(reasons_of(d, "20240101120000"),
            (std::vector<R>{R::kKeepFlag, R::kHasChild, R::kMonths, R::kYears}));
  EXPECT_EQ(reasons_of(d, "20240610120000"), (std::vector<R>{R::kDays, R::kWeeks}));
  EXPECT_EQ(reasons_of(d, "20240620120000"), (std::vector<R>{R::kFuture}));
  EXPECT_STREQ(retention_reason_name(R::kHasChild), "child");
}

TEST(RetentionTest, DeletesOnlyTheOldestCandidateWhateverTheInputOrder) {
  ScopedTimeZone tz("UTC");
  std::vector<RetentionBackup> backups = make_backups({{.label = "20240101120000", .keep = true},
                                                       {"20240102120000"},
                                                       {"20240103120000"},
                                                       {"20240104120000"},
                                                       {"20240609120000"}});
  std::mt19937 rng(42);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible order
  for (int round = 0; round < 5; ++round) {
    std::shuffle(backups.begin(), backups.end(), rng);
    const RetentionDecision d = evaluate_retention(backups, {.days = 2}, at("20240610120000"));
    EXPECT_EQ(d.to_delete, std::optional<std::string>("20240102120000"));
    EXPECT_EQ(d.candidates,
              (std::vector<std::string>{"20240102120000", "20240103120000", "20240104120000"}));
  }
}

TEST(RetentionTest, RepeatedPassesConvergeToTheRuleSet) {
  ScopedTimeZone tz("UTC");
  // One backup a day at 01:00 from 2023-05-01 to 2024-06-12.
  std::vector<RetentionBackup> backups;
  for (chr::sys_days day{chr::year{2023} / 5 / 1}; day <= chr::sys_days{chr::year{2024} / 6 / 12};
       day += chr::days{1}) {
    const chr::year_month_day ymd{day};
    char label[16];
    std::snprintf(label, sizeof label, "%04d%02u%02u010000", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    backups.push_back({label, at(label)});
  }
  ASSERT_EQ(backups.size(), 409u);
  const RetentionPolicy policy{.days = 7, .weeks = 4, .months = 3, .years = 2};
  const TimePoint now = at("20240612120000");

  std::vector<std::string> deleted;
  for (int pass = 0; pass < 1000; ++pass) {
    const RetentionDecision d = evaluate_retention(backups, policy, now);
    if (!d.to_delete) {
      break;
    }
    deleted.push_back(*d.to_delete);
    std::erase_if(backups, [&](const RetentionBackup& b) { return b.label == *d.to_delete; });
  }

  const LabelSet expected = {
      "20240101010000",                                                        // years
      "20240401010000", "20240501010000", "20240601010000",                    // months
      "20240520010000", "20240527010000", "20240603010000", "20240610010000",  // weeks
      "20240606010000", "20240607010000", "20240608010000", "20240609010000",  // days
      "20240611010000", "20240612010000"};
  LabelSet remaining;
  for (const RetentionBackup& b : backups) {
    remaining.insert(b.label);
  }
  EXPECT_EQ(remaining, expected);
  EXPECT_EQ(deleted.size(), 409u - expected.size());
  EXPECT_TRUE(std::is_sorted(deleted.begin(), deleted.end()));
  EXPECT_EQ(deleted.front(), "20230501010000");
  const RetentionDecision last = evaluate_retention(backups, policy, now);
  EXPECT_TRUE(last.candidates.empty());
  EXPECT_EQ(kept_labels(last), expected);
}

// A full backup every Monday and an incremental on each other day, on the day before: a pass
// never deletes a backup a remaining one names as parent, and every backup left restores.
TEST(RetentionTest, WeeklyChainsExpireNewestLinkFirstAndNeverBreak) {
  ScopedTimeZone tz("UTC");
  std::vector<RetentionBackup> backups;
  std::string previous;
  for (chr::sys_days day{chr::year{2024} / 4 / 1}; day <= chr::sys_days{chr::year{2024} / 6 / 12};
       day += chr::days{1}) {
    const chr::year_month_day ymd{day};
    char label[16];
    std::snprintf(label, sizeof label, "%04d%02u%02u010000", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    const bool full = chr::weekday{day} == chr::Monday;
    backups.push_back({label, at(label), false, full ? std::string() : previous});
    previous = label;
  }
  const RetentionPolicy policy{.days = 3};
  const TimePoint now = at("20240612120000");  // a Wednesday

  for (int pass = 0; pass < 1000; ++pass) {
    const RetentionDecision d = evaluate_retention(backups, policy, now);
    if (!d.to_delete) {
      break;
    }
    for (const RetentionBackup& b : backups) {
      ASSERT_NE(b.parent, *d.to_delete) << "pass " << pass << " would break " << b.label;
    }
    std::erase_if(backups, [&](const RetentionBackup& b) { return b.label == *d.to_delete; });
  }
  // Days keeps Sunday (3 days back is 9 June 12:00, so Sunday 01:00 is out), Monday, Tuesday
  // and Wednesday; Monday's full backup is their root, and the Sunday incremental goes.
  LabelSet remaining;
  for (const RetentionBackup& b : backups) {
    remaining.insert(b.label);
  }
  EXPECT_EQ(remaining, (LabelSet{"20240610010000", "20240611010000", "20240612010000"}));

  // Now keep the Thursday of the week before with the retain flag: its chain back to that
  // Monday stays, the Friday to Sunday after it go.
  backups.clear();
  previous.clear();
  for (const char* label :
       {"20240603010000", "20240604010000", "20240605010000", "20240606010000", "20240607010000",
        "20240608010000", "20240609010000", "20240610010000"}) {
    const bool full =
        std::string_view(label) == "20240603010000" || std::string_view(label) == "20240610010000";
    backups.push_back({label, at(label), std::string_view(label) == "20240606010000",
                       full ? std::string() : previous});
    previous = label;
  }
  const RetentionDecision d = evaluate_retention(backups, policy, now);
  EXPECT_EQ(kept_labels(d), (LabelSet{"20240603010000", "20240604010000", "20240605010000",
                                      "20240606010000", "20240610010000"}));
  EXPECT_EQ(reasons_of(d, "20240604010000"),
            std::vector<RetentionReason>{RetentionReason::kHasChild});
  EXPECT_EQ(d.candidates,
            (std::vector<std::string>{"20240607010000", "20240608010000", "20240609010000"}));
  EXPECT_EQ(d.to_delete, std::optional<std::string>("20240609010000"));
}

}  // namespace
}  // namespace pgm::backup
