#include "pgm/wal/lsn.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

struct LsnCase {
  std::string text;
  uint64_t value;
  std::string printed;
};

TEST(LsnTest, ParsesSlashSeparatedHex) {
  const std::vector<LsnCase> cases = {
      {"16/B374D848", 0x16B374D848, "16/B374D848"},
      {"0/0", 0, "0/0"},
      {"0/3000000", 0x3000000, "0/3000000"},
      {"1/0", uint64_t{1} << 32, "1/0"},
      {"a/b", 0xA0000000B, "A/B"},
      {"00000001/00000002", 0x100000002, "1/2"},
      {"FFFFFFFF/FFFFFFFF", UINT64_MAX, "FFFFFFFF/FFFFFFFF"},
  };
  for (const LsnCase& c : cases) {
    SCOPED_TRACE(c.text);
    auto lsn = Lsn::parse(c.text);
    ASSERT_TRUE(lsn) << lsn.error().message();
    EXPECT_EQ(lsn->value(), c.value);
    EXPECT_EQ(lsn->to_string(), c.printed);
    EXPECT_EQ(*Lsn::parse(lsn->to_string()), *lsn);
  }
}

TEST(LsnTest, RejectsMalformedText) {
  const std::vector<std::string> bad = {"",      "/",           "1/",   "/1",   "123456789/0",
                                        "1/2/3", "G/0",         "1 /0", "+1/0", "-1/0",
                                        "0x1/0", "0/123456789", "12",   " 1/0"};
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    auto lsn = Lsn::parse(text);
    ASSERT_FALSE(lsn);
    EXPECT_EQ(lsn.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(lsn.error().message().find("\"" + text + "\""), std::string::npos);
  }
}

TEST(LsnTest, SupportsArithmeticAndOrdering) {
  Lsn a(1, 0xFFFFFFF0);
  Lsn b = a + 0x20;
  EXPECT_EQ(b, Lsn(2, 0x10));
  EXPECT_EQ(b - a, 0x20u);
  EXPECT_EQ(b - 0x20, a);
  EXPECT_LT(a, b);
  EXPECT_GT(b, a);
  a += 0x20;
  EXPECT_EQ(a, b);
  EXPECT_FALSE(Lsn().is_valid());
  EXPECT_TRUE(b.is_valid());
  EXPECT_EQ(b.high(), 2u);
  EXPECT_EQ(b.low(), 0x10u);
}

TEST(TimelineIdTest, ComparesByValue) {
  EXPECT_LT(TimelineId(1), TimelineId(2));
  EXPECT_EQ(TimelineId(3), TimelineId(3));
  EXPECT_FALSE(TimelineId().is_valid());
  EXPECT_TRUE(TimelineId(1).is_valid());
}

}  // namespace
}  // namespace pgm::wal
