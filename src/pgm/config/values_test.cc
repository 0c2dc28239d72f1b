#include "pgm/config/values.h"

#include <gtest/gtest.h>

#include "pgm/config/test_env_internal.h"

namespace pgm::config {
namespace {

using std::chrono::seconds;
using testing::map_env;

TEST(ParseBoolTest, AcceptsEverySpelling) {
  const std::pair<const char*, bool> cases[] = {
      {"on", true},  {"yes", true},    {"1", true},    {"true", true}, {"ON", true},
      {"Yes", true}, {"TRUE", true},   {" on ", true}, {"off", false}, {"no", false},
      {"0", false},  {"false", false}, {"OFF", false}, {"No", false},  {"False", false}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse_bool(text);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, expected);
  }
}

TEST(ParseBoolTest, RejectsOtherText) {
  for (const char* text : {"", "2", "enable", "onn", "-1", "y"}) {
    SCOPED_TRACE(text);
    auto r = parse_bool(text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_NE(r.error().message().find("invalid boolean"), std::string::npos);
  }
}

TEST(ParseIntTest, ChecksSyntaxAndRange) {
  EXPECT_EQ(*parse_int("42", 0, 100), 42);
  EXPECT_EQ(*parse_int("-1", -1, 100), -1);
  EXPECT_EQ(*parse_int(" 7 ", 0, 10), 7);
  for (const char* bad : {"", "-", "4x", "1.5", "101", "-2", "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_int(bad, -1, 100));
  }
}

TEST(ParseDurationTest, AcceptsUnits) {
  const std::pair<const char*, int64_t> cases[] = {
      {"0", 0},     {"30", 30},    {"30s", 30},   {"30S", 30},    {"5m", 300},     {"5M", 300},
      {"2h", 7200}, {"1d", 86400}, {"1D", 86400}, {"1w", 604800}, {"2W", 1209600}, {" 10 s ", 10}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse_duration(text);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->count(), expected);
  }
}

TEST(ParseDurationTest, RejectsBadInput) {
  for (const char* bad : {"", "-1", "5x", "abc", "1.5h", "s", "5ms", "99999999999w"}) {
    SCOPED_TRACE(bad);
    auto r = parse_duration(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
  }
}

TEST(FormatDurationTest, UsesLargestExactUnitAndRoundTrips) {
  const std::pair<int64_t, const char*> cases[] = {{0, "0"},       {30, "30s"},   {300, "5m"},
                                                   {90, "90s"},    {7200, "2h"},  {86400, "1d"},
                                                   {604800, "1w"}, {691200, "8d"}};
  for (const auto& [secs, expected] : cases) {
    SCOPED_TRACE(expected);
    EXPECT_EQ(format_duration(seconds(secs)), expected);
    EXPECT_EQ(parse_duration(expected)->count(), secs);
  }
}

TEST(ParseSizeTest, AcceptsUnitsInPowersOf1024) {
  const std::pair<const char*, uint64_t> cases[] = {{"0", 0},
                                                    {"100", 100},
                                                    {"100B", 100},
                                                    {"100b", 100},
                                                    {"1K", 1024},
                                                    {"1KB", 1024},
                                                    {"256k", 262144},
                                                    {"2M", 2097152},
                                                    {"2MB", 2097152},
                                                    {"2mb", 2097152},
                                                    {"1G", 1073741824},
                                                    {"1gb", 1073741824},
                                                    {"3 GB", 3221225472ULL}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = parse_size(text);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, expected);
  }
}

TEST(ParseSizeTest, RejectsBadInput) {
  for (const char* bad :
       {"", "-5", "1T", "K", "1.5M", "12Q", "99999999999999999999", "99999999999G"}) {
    SCOPED_TRACE(bad);
    auto r = parse_size(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
  }
}

TEST(FormatSizeTest, UsesLargestExactUnitAndRoundTrips) {
  const std::pair<uint64_t, const char*> cases[] = {
      {0, "0"},        {1000, "1000"},        {1024, "1K"},  {262144, "256K"},
      {1048576, "1M"}, {3221225472ULL, "3G"}, {1536, "1536"}};
  for (const auto& [bytes, expected] : cases) {
    SCOPED_TRACE(expected);
    EXPECT_EQ(format_size(bytes), expected);
    EXPECT_EQ(*parse_size(expected), bytes);
  }
}

TEST(InterpolateEnvTest, ReplacesVariables) {
  const EnvLookup env = map_env({{"HOME", "/home/pg"}, {"USER", "pg"}, {"EMPTY", ""}});
  const std::pair<const char*, const char*> cases[] = {{"$HOME/backup", "/home/pg/backup"},
                                                       {"${HOME}/backup", "/home/pg/backup"},
                                                       {"${HOME}${USER}", "/home/pgpg"},
                                                       {"/a/$USER.d", "/a/pg.d"},
                                                       {"x${EMPTY}y", "xy"},
                                                       {"no variables", "no variables"},
                                                       {"trailing $", "trailing $"},
                                                       {"cost $5", "cost $5"},
                                                       {"$ alone", "$ alone"},
                                                       {"", ""}};
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto r = interpolate_env(text, env);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, expected);
  }
}

TEST(InterpolateEnvTest, UndefinedVariableIsErrorNamingIt) {
  const EnvLookup env = map_env({});
  for (const char* text : {"$NOPE/x", "${NOPE}/x"}) {
    SCOPED_TRACE(text);
    auto r = interpolate_env(text, env);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(r.error().message(), "environment variable NOPE is not defined");
  }
}

TEST(InterpolateEnvTest, RejectsMalformedBraces) {
  const EnvLookup env = map_env({{"A", "a"}});
  for (const char* text : {"${A", "${}", "${1A}", "${A-B}"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(interpolate_env(text, env));
  }
}

TEST(SplitListTest, TrimsAndDropsEmptyItems) {
  EXPECT_EQ(split_list(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_list("x|y", '|'), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(split_list("  ", ',').empty());
}

}  // namespace
}  // namespace pgm::config
