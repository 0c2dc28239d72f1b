#include "pgm/core/markup.h"

#include <gtest/gtest.h>

namespace pgm::core {
namespace {

TEST(MarkupTest, EscapesTheFiveSpecialCharactersOnly) {
  EXPECT_EQ(escape_markup("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(escape_markup("primary/backup/20261126100000/data/base/1/1259.zstd"),
            "primary/backup/20261126100000/data/base/1/1259.zstd");
  EXPECT_EQ(escape_markup(""), "");
}

TEST(PrintableTest, EscapesControlAndHighBytesAndCutsLongText) {
  EXPECT_EQ(printable("plain text, 100%"), "plain text, 100%");
  EXPECT_EQ(printable(std::string("a\0b\n\x7f\xc3\xa9", 7)), "a\\x00b\\x0a\\x7f\\xc3\\xa9");
  EXPECT_EQ(printable(std::string(100, 'x'), 4), "xxxx... (100 bytes)");
  EXPECT_EQ(printable(""), "");
}

}  // namespace
}  // namespace pgm::core
