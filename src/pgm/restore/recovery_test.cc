#include "pgm/restore/recovery.h"

#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::restore {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

Position position(const std::string& text) {
  auto p = parse_position(text);
  EXPECT_TRUE(p) << text << ": " << (p ? "" : p.error().message());
  return p ? *p : Position{};
}

constexpr std::string_view kConninfo =
    "host=db1.example.com port=5432 user=repl application_name=pgmoneta";

ReplicaSource source() { return {"db1.example.com", 5432, "repl", "pgmoneta"}; }

// ---------------------------------------------------------------------------------------------
// plan_recovery, primary mode

TEST(RecoveryPlanTest, PrimaryWithoutPositionWritesNothing) {
  RecoveryPlan plan = plan_recovery(position(""), source());
  EXPECT_EQ(plan.signal, SignalFile::kNone);
  EXPECT_TRUE(plan.settings.empty());
  RecoveryPlan with_timeline = plan_recovery(position("primary,timeline=2"), source());
  EXPECT_EQ(with_timeline.signal, SignalFile::kNone);
  EXPECT_TRUE(with_timeline.settings.empty());
}

TEST(RecoveryPlanTest, PrimaryWithoutPositionKeepsPassThrough) {
  RecoveryPlan plan = plan_recovery(position("work_mem=64MB"), source());
  EXPECT_EQ(plan.signal, SignalFile::kNone);
  EXPECT_EQ(plan.settings, (Settings{{"work_mem", "64MB"}}));
}

TEST(RecoveryPlanTest, PrimaryCurrentReplaysAllWal) {
  RecoveryPlan plan = plan_recovery(position("current"), source());
  EXPECT_EQ(plan.signal, SignalFile::kRecovery);
  EXPECT_EQ(plan.settings,
            (Settings{{"restore_command", "false"}, {"recovery_target_timeline", "latest"}}));
  // inclusive/action mean nothing without a stop point.
  RecoveryPlan ignored = plan_recovery(position("current,inclusive=off,action=pause"), source());
  EXPECT_EQ(ignored.settings, plan.settings);
}

// One position, one plan: the signal file and the settings in the order they are written.
struct PlanCase {
  std::string name;  // the test's name
  std::string position;
  SignalFile signal;
  Settings settings;
};

void PrintTo(const PlanCase& c, std::ostream* os) { *os << c.name << " (" << c.position << ")"; }

class RecoveryPlanCaseTest : public testing::TestWithParam<PlanCase> {};

TEST_P(RecoveryPlanCaseTest, Plans) {
  const PlanCase& c = GetParam();
  RecoveryPlan plan = plan_recovery(position(c.position), source());
  EXPECT_EQ(plan.signal, c.signal);
  EXPECT_EQ(plan.settings, c.settings);
}

std::string case_name(const testing::TestParamInfo<PlanCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(
    Primary, RecoveryPlanCaseTest,
    testing::Values(PlanCase{"Immediate",
                             "immediate,action=promote",
                             SignalFile::kRecovery,
                             {{"restore_command", "false"},
                              {"recovery_target", "immediate"},
                              {"recovery_target_timeline", "latest"},
                              {"recovery_target_action", "promote"}}},
                    PlanCase{"Name",
                             "name=before upgrade,timeline=current",
                             SignalFile::kRecovery,
                             {{"restore_command", "false"},
                              {"recovery_target_name", "before upgrade"},
                              {"recovery_target_timeline", "current"}}},
                    PlanCase{"Xid",
                             "xid=1234,inclusive=no",
                             SignalFile::kRecovery,
                             {{"restore_command", "false"},
                              {"recovery_target_xid", "1234"},
                              {"recovery_target_inclusive", "off"},
                              {"recovery_target_timeline", "latest"}}},
                    PlanCase{"LsnWithEverything",
                             "lsn=0/3000000,inclusive=yes,timeline=3,action=shutdown,work_mem=1MB",
                             SignalFile::kRecovery,
                             {{"restore_command", "false"},
                              {"recovery_target_lsn", "0/3000000"},
                              {"recovery_target_inclusive", "on"},
                              {"recovery_target_timeline", "3"},
                              {"recovery_target_action", "shutdown"},
                              {"work_mem", "1MB"}}},
                    PlanCase{"TimeIsPassedVerbatim",
                             "time=2026-11-26 06:00:00",
                             SignalFile::kRecovery,
                             {{"restore_command", "false"},
                              {"recovery_target_time", "2026-11-26 06:00:00"},
                              {"recovery_target_timeline", "latest"}}}),
    case_name);

TEST(RecoveryPlanTest, PrimaryUserRestoreCommandReplacesOurs) {
  RecoveryPlan plan = plan_recovery(position("current,restore_command=cp /a/%f %p"), source());
  EXPECT_EQ(plan.settings,
            (Settings{{"recovery_target_timeline", "latest"}, {"restore_command", "cp /a/%f %p"}}));
  RecoveryPlan upper = plan_recovery(position("current,RESTORE_COMMAND=x"), source());
  EXPECT_EQ(upper.settings,
            (Settings{{"recovery_target_timeline", "latest"}, {"RESTORE_COMMAND", "x"}}));
}

// ---------------------------------------------------------------------------------------------
// plan_recovery, replica mode

TEST(RecoveryPlanTest, ReplicaWithoutTarget) {
  RecoveryPlan plan = plan_recovery(position("replica"), source());
  EXPECT_EQ(plan.signal, SignalFile::kStandby);
  EXPECT_EQ(plan.settings, (Settings{{"primary_conninfo", std::string(kConninfo)},
                                     {"recovery_target_timeline", "latest"}}));
  RecoveryPlan current = plan_recovery(position("replica,current,action=pause"), source());
  EXPECT_EQ(current.settings, plan.settings);
}

INSTANTIATE_TEST_SUITE_P(
    Replica, RecoveryPlanCaseTest,
    testing::Values(PlanCase{"Immediate",
                             "replica,immediate",
                             SignalFile::kStandby,
                             {{"primary_conninfo", std::string(kConninfo)},
                              {"recovery_target", "immediate"},
                              {"recovery_target_timeline", "latest"}}},
                    PlanCase{"UserSettingsOverrideOurs",
                             "replica,lsn=0/5,primary_conninfo=service=main,primary_slot_name=s1,"
                             "restore_command=cp /a/%f %p",
                             SignalFile::kStandby,
                             {{"recovery_target_lsn", "0/5"},
                              {"recovery_target_timeline", "latest"},
                              {"primary_conninfo", "service=main"},
                              {"primary_slot_name", "s1"},
                              {"restore_command", "cp /a/%f %p"}}}),
    case_name);

TEST(RecoveryPlanTest, ReplicaEachPointTarget) {
  const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> cases = {
      {"name=n1", {"recovery_target_name", "n1"}},
      {"xid=99", {"recovery_target_xid", "99"}},
      {"lsn=1/AB", {"recovery_target_lsn", "1/AB"}},
      {"time=2026-11-26 06:00:00+01", {"recovery_target_time", "2026-11-26 06:00:00+01"}}};
  for (const auto& [text, target] : cases) {
    RecoveryPlan plan =
        plan_recovery(position("replica," + text + ",inclusive=0,action=promote"), source());
    EXPECT_EQ(plan.signal, SignalFile::kStandby) << text;
    EXPECT_EQ(plan.settings, (Settings{{"primary_conninfo", std::string(kConninfo)},
                                       target,
                                       {"recovery_target_inclusive", "off"},
                                       {"recovery_target_timeline", "latest"},
                                       {"recovery_target_action", "promote"}}))
        << text;
  }
}

// ---------------------------------------------------------------------------------------------
// conninfo and quoting

TEST(ConninfoTest, PlainValuesAreBare) { EXPECT_EQ(make_conninfo(source()), kConninfo); }

TEST(ConninfoTest, QuotesSpacesQuotesAndBackslashes) {
  ReplicaSource s{"/tmp/sock dir", 6543, "o'brien", "a\\b"};
  EXPECT_EQ(make_conninfo(s),
            "host='/tmp/sock dir' port=6543 user='o\\'brien' application_name='a\\\\b'");
}

TEST(ConninfoTest, LeavesOutEmptyFieldsAndNeverAPassword) {
  EXPECT_EQ(make_conninfo(ReplicaSource{"h", 0, "", ""}), "host=h");
  EXPECT_EQ(make_conninfo(ReplicaSource{}), "");
  EXPECT_EQ(make_conninfo(ReplicaSource{"", 5432, "u", ""}), "port=5432 user=u");
  EXPECT_EQ(make_conninfo(source()).find("password"), std::string::npos);
}

TEST(QuoteSettingTest, Quotes) {
  EXPECT_EQ(quote_setting(""), "''");
  EXPECT_EQ(quote_setting("latest"), "'latest'");
  EXPECT_EQ(quote_setting("it's"), "'it''s'");
  EXPECT_EQ(quote_setting("''"), "''''''");
  EXPECT_EQ(quote_setting("copy \"C:\\arch\\%f\" %p"), "'copy \"C:\\\\arch\\\\%f\" %p'");
  EXPECT_EQ(quote_setting("a\nb\rc"), "'a\\nb\\rc'");
  EXPECT_EQ(quote_setting("host='h' port=1"), "'host=''h'' port=1'");
}

// ---------------------------------------------------------------------------------------------
// comment_out_settings

TEST(CommentOutTest, DisablesEveryFormAndKeepsOtherLinesByteIdentical) {
  const std::string text =
      "# a comment about primary_conninfo = 'x'\n"
      "primary_conninfo = 'host=old'\n"
      "  Primary_Slot_Name='s'  # trailing\n"
      "\trestore_command 'cp %f %p'\n"
      "recovery_target_time=2020-01-01\n"
      "primary_conninfo_extra = 1\n"
      "shared_buffers = 128MB\n"
      "#primary_conninfo = 'commented'\n"
      "\n"
      "   \n"
      "work_mem = 4MB\r\n"
      "standby_mode = on\r\n"
      "include 'other.conf'\n"
      "recovery_target_lsn = '0/1'";
  const std::vector<std::string> keys = {"primary_conninfo", "primary_slot_name",
                                         "restore_command",  "recovery_target_time",
                                         "standby_mode",     "recovery_target_lsn"};
  EXPECT_EQ(comment_out_settings(text, keys),
            "# a comment about primary_conninfo = 'x'\n"
            "#primary_conninfo = 'host=old' # disabled by pgmoneta restore\n"
            "#  Primary_Slot_Name='s'  # trailing # disabled by pgmoneta restore\n"
            "#\trestore_command 'cp %f %p' # disabled by pgmoneta restore\n"
            "#recovery_target_time=2020-01-01 # disabled by pgmoneta restore\n"
            "primary_conninfo_extra = 1\n"
            "shared_buffers = 128MB\n"
            "#primary_conninfo = 'commented'\n"
            "\n"
            "   \n"
            "work_mem = 4MB\r\n"
            "#standby_mode = on # disabled by pgmoneta restore\r\n"
            "include 'other.conf'\n"
            "#recovery_target_lsn = '0/1' # disabled by pgmoneta restore");
}

TEST(CommentOutTest, NoKeysOrNoMatchesChangesNothing) {
  const std::string text = "a = 1\n\nb='2'\n# c = 3\nweird line\n";
  EXPECT_EQ(comment_out_settings(text, {}), text);
  const std::vector<std::string> keys = {"c", "x"};
  EXPECT_EQ(comment_out_settings(text, keys), text);
  EXPECT_EQ(comment_out_settings("", keys), "");
}

TEST(CommentOutTest, KeyMatchIsCaseInsensitiveBothWays) {
  const std::vector<std::string> keys = {"WORK_MEM"};
  EXPECT_EQ(comment_out_settings("work_mem=1\n", keys),
            "#work_mem=1 # disabled by pgmoneta restore\n");
}

// ---------------------------------------------------------------------------------------------
// keys_to_disable, rewrite_auto_conf

TEST(KeysToDisableTest, FixedListThenPlanKeys) {
  RecoveryPlan plan;
  plan.settings = {{"restore_command", "false"}, {"Work_Mem", "1MB"}, {"work_mem", "2MB"}};
  EXPECT_EQ(keys_to_disable(plan),
            (std::vector<std::string>{
                "primary_conninfo", "primary_slot_name", "restore_command", "recovery_target",
                "recovery_target_name", "recovery_target_xid", "recovery_target_lsn",
                "recovery_target_time", "recovery_target_inclusive", "recovery_target_timeline",
                "recovery_target_action", "standby_mode", "work_mem"}));
}

TEST(RewriteAutoConfTest, CommentsOutAndAppendsBlock) {
  const std::string existing =
      "# Do not edit this file manually!\n"
      "# It will be overwritten by the ALTER SYSTEM command.\n"
      "primary_conninfo = 'host=old password=secret'\n"
      "max_connections = '200'\n";
  RecoveryPlan plan = plan_recovery(position("lsn=0/3000000,action=promote"), source());
  EXPECT_EQ(rewrite_auto_conf(existing, plan, "primary 20261126060000"),
            "# Do not edit this file manually!\n"
            "# It will be overwritten by the ALTER SYSTEM command.\n"
            "#primary_conninfo = 'host=old password=secret' # disabled by pgmoneta restore\n"
            "max_connections = '200'\n"
            "\n"
            "# Generated by pgmoneta restore: primary 20261126060000\n"
            "restore_command = 'false'\n"
            "recovery_target_lsn = '0/3000000'\n"
            "recovery_target_timeline = 'latest'\n"
            "recovery_target_action = 'promote'\n");
}

TEST(RewriteAutoConfTest, EmptyPlanOnlyDisables) {
  RecoveryPlan plan;
  EXPECT_EQ(rewrite_auto_conf("standby_mode = 'on'\nport = 5433\n", plan, "h"),
            "#standby_mode = 'on' # disabled by pgmoneta restore\nport = 5433\n");
}

TEST(RewriteAutoConfTest, MissingFinalNewlineAndEmptyFile) {
  RecoveryPlan plan;
  plan.signal = SignalFile::kRecovery;
  plan.settings = {{"recovery_target_name", "it's"}};
  EXPECT_EQ(rewrite_auto_conf("port = 1", plan, "x"),
            "port = 1\n# Generated by pgmoneta restore: x\nrecovery_target_name = 'it''s'\n");
  EXPECT_EQ(rewrite_auto_conf("", plan, "multi\nline"),
            "\n# Generated by pgmoneta restore: multi line\nrecovery_target_name = 'it''s'\n");
}

TEST(RewriteAutoConfTest, SecondRunDisablesFirstBlock) {
  RecoveryPlan first = plan_recovery(position("replica,name=a"), ReplicaSource{"h", 5432, "", ""});
  RecoveryPlan second = plan_recovery(position("current"), source());
  const std::string once = rewrite_auto_conf("port = 5433\n", first, "one");
  ASSERT_EQ(once,
            "port = 5433\n"
            "\n"
            "# Generated by pgmoneta restore: one\n"
            "primary_conninfo = 'host=h port=5432'\n"
            "recovery_target_name = 'a'\n"
            "recovery_target_timeline = 'latest'\n");
  EXPECT_EQ(rewrite_auto_conf(once, second, "two"),
            "port = 5433\n"
            "\n"
            "# Generated by pgmoneta restore: one\n"
            "#primary_conninfo = 'host=h port=5432' # disabled by pgmoneta restore\n"
            "#recovery_target_name = 'a' # disabled by pgmoneta restore\n"
            "#recovery_target_timeline = 'latest' # disabled by pgmoneta restore\n"
            "\n"
            "# Generated by pgmoneta restore: two\n"
            "restore_command = 'false'\n"
            "recovery_target_timeline = 'latest'\n");
}

}  // namespace
}  // namespace pgm::restore
