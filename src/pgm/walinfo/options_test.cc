#include "pgm/walinfo/options.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgm::walinfo {
namespace {

struct Parsed {
  ParsedCommandLine result;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<std::string> words) {
  words.insert(words.begin(), "pgmoneta-walinfo");
  std::vector<const char*> argv;
  argv.reserve(words.size());
  for (const std::string& w : words) {
    argv.push_back(w.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  Parsed p;
  p.result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(WalinfoOptionsTest, TakesEveryPgmonetaOption) {
  Parsed p = parse({"-c",         "w.conf",     "-u",
                    "users.conf", "-o",         "out.txt",
                    "-F",         "json",       "-L",
                    "log.txt",    "-q",         "--color",
                    "off",        "-r",         "Heap",
                    "-r",         "Btree,XLOG", "-s",
                    "0/1000000",  "-e",         "16/B374D848",
                    "-x",         "735",        "-x",
                    "736",        "-l",         "10",
                    "-v",         "-S",         "-m",
                    "map.json",   "-t",         "000000010000000000000001"});
  ASSERT_TRUE(p.result.options) << p.err;
  const Options& o = *p.result.options;
  EXPECT_EQ(o.config, "w.conf");
  EXPECT_EQ(o.users, "users.conf");
  EXPECT_EQ(o.output, "out.txt");
  EXPECT_EQ(o.format, Format::kJson);
  EXPECT_EQ(o.logfile, "log.txt");
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(o.color, Color::kOff);
  EXPECT_EQ(o.rmgrs, (std::vector<std::string>{"Heap", "Btree", "XLOG"}));
  EXPECT_EQ(o.start, wal::Lsn(0, 0x1000000));
  EXPECT_EQ(o.end, wal::Lsn(0x16, 0xB374D848));
  EXPECT_EQ(o.xids, (std::vector<uint32_t>{735, 736}));
  EXPECT_EQ(o.limit, 10u);
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.summary);
  EXPECT_EQ(o.mapping, "map.json");
  EXPECT_TRUE(o.translate);
  EXPECT_EQ(o.path, "000000010000000000000001");
}

TEST(WalinfoOptionsTest, DefaultsAreRawAutoColorNoFilters) {
  Parsed p = parse({"dir"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->format, Format::kRaw);
  EXPECT_EQ(p.result.options->color, Color::kAuto);
  EXPECT_TRUE(p.result.options->rmgrs.empty());
  EXPECT_FALSE(p.result.options->start);
  EXPECT_EQ(p.result.options->limit, 0u);
}

TEST(WalinfoOptionsTest, RewritesTwoLetterOptionsBeforeCli11SeesThem) {
  const char* argv[] = {"pgmoneta-walinfo", "-RT", "pg_default", "-RD=postgres,5", "-RR",
                        "public.t",         "--",  "-RT"};
  EXPECT_EQ(normalize_arguments(8, argv),
            (std::vector<std::string>{"--tablespaces", "pg_default", "--databases=postgres,5",
                                      "--relations", "public.t", "--", "-RT"}));

  Parsed p = parse({"-RT", "pg_default", "-RD", "postgres,5", "-RR", "public.t", "f"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->tablespaces, (std::vector<std::string>{"pg_default"}));
  EXPECT_EQ(p.result.options->databases, (std::vector<std::string>{"postgres", "5"}));
  EXPECT_EQ(p.result.options->relations, (std::vector<std::string>{"public.t"}));
}

TEST(WalinfoOptionsTest, FilterOptionSplitsIntoTheThreeLists) {
  Parsed p = parse({"-R", "pg_default/postgres,db2/public.a,public.b", "f"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->tablespaces, (std::vector<std::string>{"pg_default"}));
  EXPECT_EQ(p.result.options->databases, (std::vector<std::string>{"postgres", "db2"}));
  EXPECT_EQ(p.result.options->relations, (std::vector<std::string>{"public.a", "public.b"}));

  Parsed empty_parts = parse({"-R", "//16384", "f"});
  ASSERT_TRUE(empty_parts.result.options) << empty_parts.err;
  EXPECT_TRUE(empty_parts.result.options->tablespaces.empty());
  EXPECT_EQ(empty_parts.result.options->relations, (std::vector<std::string>{"16384"}));
}

TEST(WalinfoOptionsTest, LsnArgumentsAreSlashHexOrDecimal) {
  EXPECT_EQ(parse_lsn_argument("0/16B3748"), wal::Lsn(0x16B3748));
  EXPECT_EQ(parse_lsn_argument("1/0"), wal::Lsn(1, 0));
  EXPECT_EQ(parse_lsn_argument("23803720"), wal::Lsn(23803720));
  EXPECT_FALSE(parse_lsn_argument(""));
  EXPECT_FALSE(parse_lsn_argument("0/XYZ"));
  EXPECT_FALSE(parse_lsn_argument("12ab"));
}

TEST(WalinfoOptionsTest, RejectsBadValuesWithExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"-F", "xml", "f"},       {"-s", "nope", "f"}, {"-e", "1/2/3", "f"},
      {"-x", "-1", "f"},        {"-x", "abc", "f"},  {"-R", "a/b", "f"},
      {"--color", "pink", "f"}, {"-l", "many", "f"}, {},
      {"--no-such", "f"},
  };
  for (const auto& words : bad) {
    Parsed p = parse(words);
    EXPECT_FALSE(p.result.options) << ::testing::PrintToString(words);
    EXPECT_EQ(p.result.exit_code, kExitUsage) << ::testing::PrintToString(words);
    EXPECT_NE(p.err.find("pgmoneta-walinfo: "), std::string::npos) << p.err;
  }
}

TEST(WalinfoOptionsTest, HelpAndVersionExitZero) {
  Parsed help = parse({"-?"});
  EXPECT_FALSE(help.result.options);
  EXPECT_EQ(help.result.exit_code, 0);
  EXPECT_NE(help.out.find("--summary"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("-RT"), std::string::npos) << help.out;
  Parsed version = parse({"-V"});
  EXPECT_EQ(version.result.exit_code, 0);
  EXPECT_EQ(version.out.rfind("pgmoneta-walinfo ", 0), 0u) << version.out;
}

TEST(WalinfoOptionsTest, RmgrListNeedsNoFile) {
  Parsed p = parse({"-r", "list"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->rmgrs, (std::vector<std::string>{"list"}));
}

}  // namespace
}  // namespace pgm::walinfo
