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

}  // namespace
}  // namespace pgm::core
