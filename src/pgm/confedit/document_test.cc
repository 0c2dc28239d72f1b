#include "pgm/confedit/document.h"

#include <gtest/gtest.h>

#include "pgm/config/parser.h"

namespace pgm::confedit {
namespace {

Document parse_ok(std::string_view text) {
  auto doc = Document::parse(text, "test.conf");
  EXPECT_TRUE(doc) << doc.error().message();
  return doc ? *doc : *Document::parse("", "empty.conf");
}

constexpr std::string_view kSample =
    "# pgmoneta configuration\n"
    "[pgmoneta]\n"
    "host = *   # every address\n"
    "metrics=5001\n"
    "\n"
    "; the backups\n"
    "base_dir   =   /home/pgmoneta/backup\n"
    "log_path = \"/tmp/a # b.log\"\n"
    "\n"
    "# the primary\n"
    "[primary]\n"
    "host = localhost\n"
    "port = 5432\n";

TEST(DocumentTest, RoundTripIsByteIdentical) {
  for (std::string_view text :
       {kSample, std::string_view("[a]\r\nk = v\r\n\r\n"), std::string_view("[a]\nk = v"),
        std::string_view(""), std::string_view("\n\n# only comments\n"),
        std::string_view("  [ a ]  \n\t k\t=\tv  \n")}) {
    EXPECT_EQ(parse_ok(text).serialize(), text);
  }
}

TEST(DocumentTest, RejectsWhatTheDaemonRejects) {
  auto doc = Document::parse("[pgmoneta]\nhost\n", "bad.conf");
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().message(),
            "bad.conf:2: expected \"key = value\" or \"[section]\", got \"host\"");
}

TEST(DocumentTest, GetsValuesAsTheDaemonReadsThem) {
  Document doc = parse_ok(kSample);
  EXPECT_EQ(doc.get("pgmoneta", "host"), "*");
  EXPECT_EQ(doc.get("pgmoneta", "metrics"), "5001");
  EXPECT_EQ(doc.get("pgmoneta", "base_dir"), "/home/pgmoneta/backup");
  EXPECT_EQ(doc.get("pgmoneta", "log_path"), "/tmp/a # b.log");
  EXPECT_EQ(doc.get("primary", "host"), "localhost");
  EXPECT_EQ(doc.get("primary", "user"), std::nullopt);
  EXPECT_EQ(doc.get("standby", "host"), std::nullopt);
}

TEST(DocumentTest, DuplicateKeyLastWins) {
  Document doc = parse_ok("[a]\nk = 1\nk = 2\n");
  EXPECT_EQ(doc.get("a", "k"), "2");
  EXPECT_EQ(doc.keys("a"), (std::vector<std::string>{"k"}));
  ASSERT_TRUE(doc.set("a", "k", "3"));
  EXPECT_EQ(doc.serialize(), "[a]\nk = 1\nk = 3\n");
  EXPECT_EQ(doc.get("a", "k"), "3");
}

TEST(DocumentTest, ListsSectionsAndKeysInFileOrder) {
  Document doc = parse_ok(kSample);
  EXPECT_EQ(doc.sections(), (std::vector<std::string>{"pgmoneta", "primary"}));
  EXPECT_EQ(doc.keys("pgmoneta"),
            (std::vector<std::string>{"host", "metrics", "base_dir", "log_path"}));
  EXPECT_EQ(doc.keys("primary"), (std::vector<std::string>{"host", "port"}));
  EXPECT_EQ(doc.keys("standby"), std::nullopt);
}

TEST(DocumentTest, SetExistingKeyKeepsSpacingAndComment) {
  Document doc = parse_ok(kSample);
  ASSERT_TRUE(doc.set("pgmoneta", "host", "localhost"));
  ASSERT_TRUE(doc.set("pgmoneta", "metrics", "6001"));
  ASSERT_TRUE(doc.set("pgmoneta", "base_dir", "/srv/backup"));
  std::string expected(kSample);
  expected.replace(expected.find("*   #"), 1, "localhost");
  expected.replace(expected.find("5001"), 4, "6001");
  expected.replace(expected.find("/home/pgmoneta/backup"), 21, "/srv/backup");
  EXPECT_EQ(doc.serialize(), expected);
  EXPECT_EQ(doc.get("pgmoneta", "host"), "localhost");
}

TEST(DocumentTest, SetQuotesWhenNeededAndReadsBack) {
  Document doc = parse_ok("[a]\nk =\nc = # note\n");
  ASSERT_TRUE(doc.set("a", "k", "x # y"));
  ASSERT_TRUE(doc.set("a", "c", " padded"));
  ASSERT_TRUE(doc.set("a", "q", "say \"hi\" #1"));
  EXPECT_EQ(doc.serialize(), "[a]\nk = \"x # y\"\nc = \" padded\" # note\nq = 'say \"hi\" #1'\n");
  auto again = Document::parse(doc.serialize(), "again.conf");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get("a", "k"), "x # y");
  EXPECT_EQ(again->get("a", "c"), " padded");
  EXPECT_EQ(again->get("a", "q"), "say \"hi\" #1");
  EXPECT_FALSE(doc.set("a", "k", "both \" and ' #"));
  EXPECT_FALSE(doc.set("a", "k", "two\nlines"));
  EXPECT_FALSE(doc.set("a", "bad=key", "v"));
  EXPECT_FALSE(doc.set("a", " k", "v"));
  EXPECT_FALSE(doc.set("a]", "k", "v"));
  EXPECT_FALSE(doc.set("", "k", "v"));
}

TEST(DocumentTest, SetNewKeyGoesAfterTheSectionsLastKey) {
  Document doc = parse_ok(kSample);
  ASSERT_TRUE(doc.set("pgmoneta", "compression", "zstd"));
  ASSERT_TRUE(doc.set("primary", "user", "repl"));
  std::string expected(kSample);
  expected.insert(expected.find("\n\n# the primary") + 1, "compression = zstd\n");
  expected += "user = repl\n";
  EXPECT_EQ(doc.serialize(), expected);
}

TEST(DocumentTest, SetNewSectionAppendsAfterABlankLine) {
  Document doc = parse_ok("[a]\nk = v");
  ASSERT_TRUE(doc.set("b", "x", "1"));
  EXPECT_EQ(doc.serialize(), "[a]\nk = v\n\n[b]\nx = 1\n");
  Document empty = parse_ok("");
  ASSERT_TRUE(empty.set("pgmoneta", "host", "*"));
  EXPECT_EQ(empty.serialize(), "[pgmoneta]\nhost = *\n");
}

TEST(DocumentTest, SetInEmptySectionGoesAfterHeader) {
  Document doc = parse_ok("[a]\n# about b\n[b]\n");
  ASSERT_TRUE(doc.set("a", "k", "v"));
  EXPECT_EQ(doc.serialize(), "[a]\nk = v\n# about b\n[b]\n");
}

TEST(DocumentTest, CrlfFilesGetCrlfLines) {
  Document doc = parse_ok("[a]\r\nk = v\r\n");
  ASSERT_TRUE(doc.set("a", "k", "w"));
  ASSERT_TRUE(doc.set("a", "n", "1"));
  ASSERT_TRUE(doc.set("b", "m", "2"));
  EXPECT_EQ(doc.serialize(), "[a]\r\nk = w\r\nn = 1\r\n\r\n[b]\r\nm = 2\r\n");
  EXPECT_EQ(doc.get("a", "k"), "w");
}

TEST(DocumentTest, RemoveKeyRemovesEveryOccurrence) {
  Document doc = parse_ok("[a]\nk = 1\n# keep\nk = 2\nj = 3\n[b]\nk = 4\n");
  EXPECT_TRUE(doc.remove_key("a", "k"));
  EXPECT_EQ(doc.serialize(), "[a]\n# keep\nj = 3\n[b]\nk = 4\n");
  EXPECT_FALSE(doc.remove_key("a", "k"));
  EXPECT_FALSE(doc.remove_key("c", "k"));
}

TEST(DocumentTest, RemoveSectionKeepsTheNextSectionsComments) {
  Document doc = parse_ok(kSample);
  EXPECT_TRUE(doc.remove_section("pgmoneta"));
  EXPECT_EQ(doc.serialize(),
            "# pgmoneta configuration\n# the primary\n[primary]\nhost = localhost\nport = 5432\n");
  EXPECT_FALSE(doc.remove_section("pgmoneta"));
  EXPECT_TRUE(doc.remove_section("primary"));
  EXPECT_EQ(doc.serialize(), "# pgmoneta configuration\n# the primary\n");
}

TEST(DocumentTest, RepeatedSectionIsOneSection) {
  Document doc = parse_ok("[a]\nk = 1\n[b]\n[a]\nj = 2\n");
  EXPECT_EQ(doc.sections(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(doc.keys("a"), (std::vector<std::string>{"k", "j"}));
  ASSERT_TRUE(doc.set("a", "n", "3"));
  EXPECT_EQ(doc.serialize(), "[a]\nk = 1\n[b]\n[a]\nj = 2\nn = 3\n");
  EXPECT_TRUE(doc.remove_section("a"));
  EXPECT_EQ(doc.serialize(), "[b]\n");
}

TEST(DocumentTest, EditedTextParsesWithTheDaemonsParser) {
  Document doc = parse_ok(kSample);
  ASSERT_TRUE(doc.set("standby", "host", "10.0.0.2"));
  ASSERT_TRUE(doc.set("pgmoneta", "log_path", "/var/log/p#1.log"));
  auto parsed = config::parse_ini(doc.serialize(), "edited.conf");
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->sections.size(), 3u);
  EXPECT_EQ(parsed->sections[2].name, "standby");
}

}  // namespace
}  // namespace pgm::confedit
