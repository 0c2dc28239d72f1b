#include "pgm/cli/completion.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/cli/cli.h"
#include "pgm/management/registry.h"

namespace pgm::cli {
namespace {

std::vector<std::string> grammar_lines() {
  ParseOutcome parsed = parse_args({std::string(kCompletionGrammarFlag)});
  EXPECT_EQ(parsed.exit_code, kExitSuccess);
  EXPECT_FALSE(parsed.invocation.has_value());
  std::vector<std::string> lines;
  std::istringstream in(parsed.out);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(CompletionGrammarTest, ListsEveryVerbWithItsUsage) {
  std::vector<std::string> lines = grammar_lines();
  for (const management::CommandSpec& s : management::command_specs()) {
    if (!s.help.empty()) {
      EXPECT_TRUE(has_line(lines, "verb\t" + std::string(s.verb) + "\t" + std::string(s.usage)))
          << s.verb;
    }
  }
  EXPECT_TRUE(has_line(lines, "verb\tbackup\t<server> [parent]"));
  EXPECT_TRUE(has_line(lines, "command\tstatus details"));
  EXPECT_TRUE(has_line(lines, "command\tconf get"));
  EXPECT_FALSE(has_line(lines, "command\tbackup"));
}

TEST(CompletionGrammarTest, ListsOptionsWithTheirChoices) {
  std::vector<std::string> lines = grammar_lines();
  EXPECT_TRUE(has_line(lines, "option\t-F,--format\tvalue\tOutput format: text|json|raw"));
  EXPECT_TRUE(has_line(lines, "option\t-s,--sort\tvalue\tSort order of list-backup: asc|desc"));
  EXPECT_TRUE(has_line(lines,
                       "option\t-c,--config\tvalue\tThe pgmoneta_cli.conf (or "
                       "pgmoneta.conf) file; default /etc/pgmoneta/pgmoneta_cli.conf"));
  bool verbose_is_flag = false;
  for (const std::string& line : lines) {
    verbose_is_flag = verbose_is_flag || line.rfind("option\t-v,--verbose\tflag\t", 0) == 0;
    EXPECT_EQ(line.find(kCompletionGrammarFlag), std::string::npos) << "lists itself: " << line;
  }
  EXPECT_TRUE(verbose_is_flag);
}

TEST(CompletionGrammarTest, ListsTheConfigurationKeysBySection) {
  std::vector<std::string> lines = grammar_lines();
  EXPECT_TRUE(has_line(lines, "key\tmain\tretention"));
  EXPECT_TRUE(has_line(lines, "key\tserver\tretention"));  // valid in both
  EXPECT_TRUE(has_line(lines, "key\tmain\tmetrics"));
  EXPECT_FALSE(has_line(lines, "key\tserver\tmetrics"));  // [pgmoneta] only
  EXPECT_TRUE(has_line(lines, "key\tserver\twal_slot"));
  EXPECT_FALSE(has_line(lines, "key\tmain\twal_slot"));       // server only
  EXPECT_FALSE(has_line(lines, "key\tmain\ts3_aws_region"));  // an alias, not a key
  size_t keys = std::count_if(lines.begin(), lines.end(),
                              [](const std::string& l) { return l.rfind("key\tmain\t", 0) == 0; });
  EXPECT_GT(keys, 40u);
}

TEST(CompletionGrammarTest, OnlyAloneOnTheCommandLine) {
  ParseOutcome parsed = parse_args({std::string(kCompletionGrammarFlag), "ping"});
  EXPECT_EQ(parsed.exit_code, kExitUsage);
}

}  // namespace
}  // namespace pgm::cli
