#include "pgm/wal/history.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

TEST(HistoryTest, ParsesEntriesSkippingCommentsAndBlankLines) {
  const std::string text =
      "1\t0/3000000\tno recovery target specified\n"
      "\n"
      "  # a comment\n"
      "2\t0/50000A0\tat restore point \"before upgrade\"\n"
      "3\t1/0\n";
  auto entries = parse_history(text);
  ASSERT_TRUE(entries) << entries.error().message();
  const std::vector<HistoryEntry> want = {
      {TimelineId(1), Lsn(0x3000000), "no recovery target specified"},
      {TimelineId(2), Lsn(0x50000A0), "at restore point \"before upgrade\""},
      {TimelineId(3), Lsn(1, 0), ""},
  };
  EXPECT_EQ(*entries, want);
  EXPECT_EQ(switch_point(*entries, TimelineId(2)), Lsn(0x50000A0));
  EXPECT_EQ(switch_point(*entries, TimelineId(4)), std::nullopt);
  EXPECT_EQ(timeline_at(*entries, TimelineId(4), Lsn(0x2FFFFFF)), TimelineId(1));
  EXPECT_EQ(timeline_at(*entries, TimelineId(4), Lsn(0x3000000)), TimelineId(2));
  EXPECT_EQ(timeline_at(*entries, TimelineId(4), Lsn(2, 0)), TimelineId(4));
}

TEST(HistoryTest, EmptyFileHasNoEntries) {
  auto entries = parse_history("# only a comment\n\n");
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty());
}

struct BadHistory {
  std::string text;
  std::string message;
};

TEST(HistoryTest, RejectsMalformedLinesNamingThem) {
  const std::vector<BadHistory> cases = {
      {"x\t0/1\tr\n", "line 1: invalid timeline id \"x\""},
      {"0\t0/1\tr\n", "line 1: invalid timeline id \"0\""},
      {"1\n", "line 1: missing switch point"},
      {"# c\n1\tzz\tr\n", "line 2: invalid lsn \"zz\""},
      {"2\t0/1\n1\t0/2\n", "line 2: timeline 1 does not follow timeline 2"},
      {"1\t0/5\n\n2\t0/4\n", "line 3: switch point 0/4 precedes the previous one 0/5"},
  };
  for (const BadHistory& c : cases) {
    SCOPED_TRACE(c.text);
    auto entries = parse_history(c.text);
    ASSERT_FALSE(entries);
    EXPECT_EQ(entries.error().code(), ErrorCode::kCorruption);
    EXPECT_EQ(entries.error().message().substr(0, c.message.size()), c.message);
  }
}

}  // namespace
}  // namespace pgm::wal
