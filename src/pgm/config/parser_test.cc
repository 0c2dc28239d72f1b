#include "pgm/config/parser.h"

#include <gtest/gtest.h>

namespace pgm::config {
namespace {

TEST(IniParserTest, ParsesSectionsKeysAndValues) {
  auto doc = parse_ini("[pgmoneta]\nhost = *\n\n[primary]\nport=5432\n", "t.conf");
  ASSERT_TRUE(doc) << doc.error().message();
  ASSERT_EQ(doc->sections.size(), 2u);
  EXPECT_EQ(doc->sections[0].name, "pgmoneta");
  EXPECT_EQ(doc->sections[0].line, 1);
  ASSERT_EQ(doc->sections[0].entries.size(), 1u);
  EXPECT_EQ(doc->sections[0].entries[0].key, "host");
  EXPECT_EQ(doc->sections[0].entries[0].value, "*");
  EXPECT_EQ(doc->sections[0].entries[0].line, 2);
  EXPECT_EQ(doc->sections[1].name, "primary");
  EXPECT_EQ(doc->sections[1].line, 4);
  EXPECT_EQ(doc->sections[1].entries[0].key, "port");
  EXPECT_EQ(doc->sections[1].entries[0].value, "5432");
  EXPECT_EQ(doc->sections[1].entries[0].line, 5);
}

TEST(IniParserTest, QuotingAndComments) {
  const std::pair<const char*, const char*> cases[] = {
      {"k = plain", "plain"},
      {"k = plain # comment", "plain"},
      {"k = plain#comment", "plain"},
      {"k = two words", "two words"},
      {"k = \"quoted # not a comment\"", "quoted # not a comment"},
      {"k = '  kept blanks  '", "  kept blanks  "},
      {"k = \"it's\"", "it's"},
      {"k = 'say \"hi\"'", "say \"hi\""},
      {"k = \"v\" # comment", "v"},
      {"k = \"\"", ""},
      {"k =", ""},
      {"k = a;b", "a;b"},
      {"k = a = b", "a = b"},
      {"  k   =   spaced   ", "spaced"},
      {"k = %Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"},
  };
  for (const auto& [line, expected] : cases) {
    SCOPED_TRACE(line);
    auto doc = parse_ini(std::string("[s]\n") + line + "\n", "t.conf");
    ASSERT_TRUE(doc) << doc.error().message();
    ASSERT_EQ(doc->sections.at(0).entries.size(), 1u);
    EXPECT_EQ(doc->sections[0].entries[0].key, "k");
    EXPECT_EQ(doc->sections[0].entries[0].value, expected);
  }
}

TEST(IniParserTest, IgnoresCommentAndBlankLines) {
  auto doc =
      parse_ini("# comment\n; another\n   # indented\n\n  \n[s] # trailing\nk = v\n", "t.conf");
  ASSERT_TRUE(doc) << doc.error().message();
  ASSERT_EQ(doc->sections.size(), 1u);
  EXPECT_EQ(doc->sections[0].name, "s");
  EXPECT_EQ(doc->sections[0].line, 6);
  EXPECT_EQ(doc->sections[0].entries.size(), 1u);
}

TEST(IniParserTest, KeysAreCaseSensitive) {
  auto doc = parse_ini("[s]\nHost = a\nhost = b\n", "t.conf");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->sections[0].entries[0].key, "Host");
  EXPECT_EQ(doc->sections[0].entries[1].key, "host");
}

TEST(IniParserTest, KeepsEntriesBeforeAnySection) {
  auto doc = parse_ini("k = v\n[s]\n", "t.conf");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->sections.size(), 2u);
  EXPECT_EQ(doc->sections[0].name, "");
  EXPECT_EQ(doc->sections[0].entries[0].key, "k");
}

TEST(IniParserTest, HandlesCrlfLineEndings) {
  auto doc = parse_ini("[s]\r\nk = v\r\n", "t.conf");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->sections[0].name, "s");
  EXPECT_EQ(doc->sections[0].entries[0].value, "v");
}

TEST(IniParserTest, ErrorsNameFileAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"[s]\nk = \"open\n", "t.conf:2: k: unterminated double quote"},
      {"[s]\nk = 'open\n", "t.conf:2: k: unterminated single quote"},
      {"[s]\n\nk = \"a\" b\n", "t.conf:3: k: unexpected text \"b\" after the closing quote"},
      {"[s]\njust words\n",
       "t.conf:2: expected \"key = value\" or \"[section]\", got \"just words\""},
      {"[s\n", "t.conf:1: section header \"[s\" has no closing ']'"},
      {"[]\n", "t.conf:1: empty section name"},
      {"[s] x\n", "t.conf:1: unexpected text \"x\" after section header"},
      {"[s]\n = v\n", "t.conf:2: empty key before '='"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto doc = parse_ini(text, "t.conf");
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(doc.error().message(), expected);
  }
}

}  // namespace
}  // namespace pgm::config
