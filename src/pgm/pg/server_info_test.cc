#include "pgm/pg/server_info.h"

#include <string>

#include <gtest/gtest.h>

namespace pgm::pg {
namespace {

struct SizeCase {
  const char* text;
  uint64_t bytes;
};

class ParseSizeTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(ParseSizeTest, ParsesShowOutput) {
  auto r = parse_size(GetParam().text);
  ASSERT_TRUE(r) << GetParam().text << ": " << r.error().message();
  EXPECT_EQ(*r, GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(Units, ParseSizeTest,
                         ::testing::Values(SizeCase{"8192", 8192}, SizeCase{"8kB", 8192},
                                           SizeCase{"16MB", 16777216}, SizeCase{"1GB", 1073741824},
                                           SizeCase{"2TB", 2199023255552}, SizeCase{"512B", 512},
                                           SizeCase{"0", 0}, SizeCase{" 64MB ", 67108864},
                                           SizeCase{"16 MB", 16777216},
                                           SizeCase{"131072kB", 134217728}));

class ParseSizeRejectsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseSizeRejectsTest, Rejects) {
  auto r = parse_size(GetParam());
  ASSERT_FALSE(r) << GetParam();
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Malformed, ParseSizeRejectsTest,
                         ::testing::Values("", "MB", "16XB", "-1", "1.5GB", "16MBx", "0x10",
                                           "99999999999999999999", "18014398509481984TB"));

TEST(ParseBoolTest, AcceptsPostgresSpellings) {
  EXPECT_EQ(parse_bool("on"), true);
  EXPECT_EQ(parse_bool("OFF"), false);
  EXPECT_EQ(parse_bool("true"), true);
  EXPECT_EQ(parse_bool("no"), false);
  EXPECT_EQ(parse_bool("1"), true);
  EXPECT_FALSE(parse_bool("maybe"));
}

std::map<std::string, std::string> pg15_settings() {
  return {{"wal_level", "replica"}, {"data_checksums", "on"},     {"track_commit_timestamp", "on"},
          {"block_size", "8192"},   {"wal_segment_size", "16MB"}, {"segment_size", "1GB"}};
}

TEST(ServerInfoTest, BuildsFromShowValues) {
  auto info = make_server_info(150004, pg15_settings(), false);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->major, 15);
  EXPECT_EQ(info->minor, 4);
  EXPECT_EQ(info->wal_level, "replica");
  EXPECT_TRUE(info->data_checksums);
  EXPECT_TRUE(info->track_commit_timestamp);
  EXPECT_EQ(info->block_size, 8192u);
  EXPECT_EQ(info->wal_segment_size, 16u * 1024 * 1024);
  EXPECT_EQ(info->segment_size, 1024ull * 1024 * 1024);
  EXPECT_FALSE(info->in_recovery);
  EXPECT_FALSE(info->summarize_wal.has_value());
  EXPECT_TRUE(check_usable(*info));
  EXPECT_TRUE(warnings(*info).empty());
}

TEST(ServerInfoTest, ReadsSummarizeWalWhenPresent) {
  auto settings = pg15_settings();
  settings["summarize_wal"] = "off";
  auto info = make_server_info(170002, settings, true);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->major, 17);
  EXPECT_EQ(info->minor, 2);
  EXPECT_TRUE(info->in_recovery);
  ASSERT_TRUE(info->summarize_wal.has_value());
  EXPECT_FALSE(*info->summarize_wal);
  EXPECT_EQ(warnings(*info),
            std::vector<std::string>{"summarize_wal is off: incremental backups cannot use WAL "
                                     "summaries and read the whole cluster"});
}

TEST(ServerInfoTest, MissingOrMalformedSettingIsProtocolError) {
  auto settings = pg15_settings();
  settings.erase("block_size");
  auto r = make_server_info(150004, settings, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(r.error().message().find("block_size"), std::string::npos);

  settings = pg15_settings();
  settings["wal_segment_size"] = "sixteen";
  r = make_server_info(150004, settings, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("wal_segment_size"), std::string::npos);
}

TEST(CheckUsableTest, RejectsOldVersion) {
  auto info = make_server_info(120015, pg15_settings(), false);
  ASSERT_TRUE(info);
  auto r = check_usable(*info);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
  EXPECT_NE(r.error().message().find("13 or later"), std::string::npos);
  info->version_num = 130000;
  EXPECT_TRUE(check_usable(*info));
}

TEST(CheckUsableTest, RejectsMinimalWalLevel) {
  auto settings = pg15_settings();
  settings["wal_level"] = "minimal";
  auto info = make_server_info(150004, settings, false);
  ASSERT_TRUE(info);
  auto r = check_usable(*info);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "wal_level is minimal: replica or logical required");
  info->wal_level = "logical";
  EXPECT_TRUE(check_usable(*info));
}

TEST(CheckUsableTest, ReportsEveryProblem) {
  auto settings = pg15_settings();
  settings["wal_level"] = "minimal";
  settings["wal_segment_size"] = "3MB";
  auto info = make_server_info(110000, settings, false);
  ASSERT_TRUE(info);
  auto r = check_usable(*info);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("version"), std::string::npos);
  EXPECT_NE(r.error().message().find("; wal_level"), std::string::npos);
  EXPECT_NE(r.error().message().find("; wal_segment_size"), std::string::npos);
}

TEST(CheckUsableTest, CommitTimestampOffIsOnlyAWarning) {
  auto settings = pg15_settings();
  settings["track_commit_timestamp"] = "off";
  auto info = make_server_info(150004, settings, false);
  ASSERT_TRUE(info);
  EXPECT_TRUE(check_usable(*info));
  EXPECT_EQ(warnings(*info), std::vector<std::string>{"track_commit_timestamp is off"});
}

}  // namespace
}  // namespace pgm::pg
